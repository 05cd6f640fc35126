#!/usr/bin/env bash
# Build the reference site from data/ (or $RFZOO_DATA_DIR) into site/, failing on any warning.
# Extra arguments go to `mkdocs build` (e.g. -d /tmp/site). Serve locally: mkdocs serve.
set -euo pipefail
cd "$(dirname "$0")/.."
export NO_MKDOCS_2_WARNING=1
exec "${PYTHON:-.venv/bin/python}" -m mkdocs build --strict "$@"
