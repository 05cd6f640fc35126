#!/usr/bin/env bash
# Build the site from the committed catalog, failing on any warning.
#   bash scripts/ci/pages_build.sh [SITE_DIR]    # default: site/
source "$(dirname "$0")/lib.sh"

"$PYTHON" -m mkdocs build --strict --site-dir "${1:-site}"
