# Shared by the scripts/ci/*.sh scripts: repo root, settings, the rfzoo command.
# Sourced, not run.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
# catalog.env holds the defaults as KEY=value lines. They are parsed, never evaluated: the
# value is taken literally, less one pair of surrounding quotes. A variable already in the
# environment wins (local trials).
while IFS= read -r line || [ -n "$line" ]; do
    [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
    key=${line%%=*} value=${line#*=}
    if [[ $line != *=* || ! $key =~ ^[A-Z_][A-Z0-9_]*$ ]]; then
        echo "scripts/ci/catalog.env: not a KEY=value line: $line" >&2
        exit 1
    fi
    case $value in
        \"*\" | \'*\') value=${value:1:-1} ;;
    esac
    [ -n "${!key+set}" ] || printf -v "$key" '%s' "$value"
done <scripts/ci/catalog.env
unset line key value

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
