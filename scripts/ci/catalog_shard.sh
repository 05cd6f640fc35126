#!/usr/bin/env bash
# Build shard I of N of the catalog into OUT (a catalog data directory, recreated).
#   bash scripts/ci/catalog_shard.sh I N OUT [NAMES...]   # NAMES: a smaller list than --all
# Warm caches: the directory in CATALOG_WARM_DIR (CI restores its cache there; the build is
# saved back to it) and the committed catalog; only this shard's entries are taken from them.
source "$(dirname "$0")/lib.sh"

if [ $# -lt 3 ]; then
    echo "usage: $0 I N OUT [NAMES...]" >&2
    exit 2
fi
index=$1 count=$2 out=$3
shift 3
warm=${CATALOG_WARM_DIR:-}
selection=("$@")
[ ${#selection[@]} -gt 0 ] || selection=(--all)

rm -rf "$out"
mkdir -p "$out"
"$PYTHON" scripts/ci/catalog_seed.py "$out" "$index" "$count" $warm "$CATALOG_DATA_DIR" -- "$@"

start=$SECONDS
# shellcheck disable=SC2086  # CATALOG_BUILD_ARGS is a list of words
rfzoo build "${selection[@]}" --shard "$index/$count" --data-dir "$out" $CATALOG_BUILD_ARGS
# the default models whose full probe passed the stage checks' time limit: again, alone, longer
slow=$("$PYTHON" scripts/ci/catalog_slow_full.py "$out")
if [ -n "$slow" ]; then
    # shellcheck disable=SC2086 # one source/name per line, never a space in them
    rfzoo build $slow --data-dir "$out" --retry-failed --jobs 1 --timeout "$CATALOG_FULL_PROBE_TIMEOUT"
fi
echo "shard $index/$count built in $((SECONDS - start)) s" | tee -a "${GITHUB_STEP_SUMMARY:-/dev/null}"

if [ -n "$warm" ]; then
    rm -rf "$warm"
    cp -R "$out" "$warm"
fi
