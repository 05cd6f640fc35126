#!/usr/bin/env bash
# Make .venv match requirements/lock.txt (and install this checkout of rfzoo into it).
# Idempotent and quick when nothing changed: a stamp of the lock and pyproject hashes.
# Torch comes from wherever pip finds torch==2.14.1 (this machine's disk, or PyPI);
# set TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu for CPU-only wheels elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=.venv/.rfzoo-lock-stamp
want=$(cat requirements/lock.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi
echo "rfzoo: setting up .venv from requirements/lock.txt (first run takes a few minutes)" >&2
TORCH_INDEX_URL=${TORCH_INDEX_URL-} bash scripts/ci/install.sh full >&2
echo "$want" >"$stamp"
