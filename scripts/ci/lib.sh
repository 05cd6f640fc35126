# Shared by the scripts/ci/*.sh scripts: repo root, settings, the rfzoo command.
# Sourced, not run.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
# catalog.env holds the defaults; a variable already in the environment wins (local trials)
while IFS='=' read -r key value; do
    [[ $key =~ ^[A-Z_]+$ ]] || continue
    [ -n "${!key+set}" ] || eval "$key=$value"
done <scripts/ci/catalog.env

# The same interpreter in CI and on a laptop: the venv install.sh makes, unless overridden.
PYTHON=${RFZOO_PYTHON:-$ROOT/.venv/bin/python}
# this checkout's rfzoo, installed or not (scripts/ci/*.py import it too)
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

rfzoo() {
    "$PYTHON" -m rfzoo "$@"
}

# Write KEY=value to the step outputs in CI; print it locally.
set_output() {
    if [ -n "${GITHUB_OUTPUT:-}" ]; then
        echo "$1=$2" >>"$GITHUB_OUTPUT"
    fi
    echo "$1=$2"
}
