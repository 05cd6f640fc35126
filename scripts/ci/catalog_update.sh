#!/usr/bin/env bash
# Compare a freshly built catalog with the committed one, write the pull request body, add a
# changelog entry and copy the new catalog into the data directory.
#   bash scripts/ci/catalog_update.sh NEW [OLD]    # OLD: git:HEAD (the committed data) by default
# Writes $CATALOG_REPORT_DIR/catalog-diff.md (PR body, tables capped) and catalog-diff.json,
# and updates $CATALOG_DATA_DIR (everything the new catalog has, and changelog.md).
source "$(dirname "$0")/lib.sh"

if [ $# -lt 1 ]; then
    echo "usage: $0 NEW [OLD]" >&2
    exit 2
fi
new=$1 old=${2:-git:HEAD:$CATALOG_DATA_DIR}
mkdir -p "$CATALOG_REPORT_DIR"
# a PR body holds 65,536 characters: cap each table there; the changelog keeps every row
rfzoo diff "$old" "$new" --max-rows 150 --date "${CATALOG_DATE:-$(date -u +%Y-%m-%d)}" \
    --output "$CATALOG_REPORT_DIR"/catalog-diff.md --changelog "$CATALOG_DATA_DIR/changelog.md"
rfzoo diff "$old" "$new" --format json --output "$CATALOG_REPORT_DIR"/catalog-diff.json

# the new catalog replaces each part it has (models/, cache/, index.*); the changelog stays
mkdir -p "$CATALOG_DATA_DIR"
for part in "$new"/*; do
    rm -rf "${CATALOG_DATA_DIR:?}/$(basename "$part")"
    cp -R "$part" "$CATALOG_DATA_DIR/"
done
cat "$CATALOG_REPORT_DIR"/catalog-diff.md >>"${GITHUB_STEP_SUMMARY:-/dev/null}"
echo "catalog updated in $CATALOG_DATA_DIR; pull request body in $CATALOG_REPORT_DIR/catalog-diff.md"
