#!/usr/bin/env bash
# Join shard outputs into one catalog directory.
#   bash scripts/ci/catalog_merge.sh OUT SHARD_DIR...
source "$(dirname "$0")/lib.sh"

if [ $# -lt 2 ]; then
    echo "usage: $0 OUT SHARD_DIR..." >&2
    exit 2
fi
out=$1
shift
rfzoo merge "$@" --output "$out"
