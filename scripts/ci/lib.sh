# Shared by the scripts/ci/*.sh scripts: repo root, settings, the rfzoo command.
# Sourced, not run.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/ci/catalog.env
source scripts/ci/catalog.env

# The same interpreter in CI and on a laptop: the venv install.sh makes, unless overridden.
PYTHON=${RFZOO_PYTHON:-$ROOT/.venv/bin/python}

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
