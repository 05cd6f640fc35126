#!/usr/bin/env bash
# The whole test suite: unit, property, real-model, catalog, site (strict build and
# headless Chromium) and CI-workflow tests. Sets up .venv and Debian's chromium first.
#   bash scripts/test.sh               # everything
#   bash scripts/test.sh -m "not slow" # the quick part; any pytest arguments pass through
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
if [ ! -x /usr/bin/chromium ]; then
    echo "rfzoo: installing Debian's chromium for the browser tests" >&2
    if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq >&2 && $sudo apt-get install -y -qq chromium >&2
fi
export RFZOO_REQUIRE_BROWSER=1  # browser tests fail instead of skipping when chromium is missing
exec .venv/bin/python -m pytest -n "${RFZOO_TEST_WORKERS:-2}" --dist loadfile "$@"
