#!/usr/bin/env bash
# The main job: set up, bring the default catalog up to date (cached: the committed data
# is a warm cache, so nothing is recomputed unless library versions or rfzoo changed),
# and build the reference site into site/ with mkdocs --strict.
#   bash scripts/build.sh            # then: .venv/bin/mkdocs serve   (http://127.0.0.1:8000)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/rfzoo build --default --jobs "${RFZOO_JOBS:-2}"
bash scripts/build_site.sh
echo "site built in site/; serve it with: .venv/bin/mkdocs serve" >&2
