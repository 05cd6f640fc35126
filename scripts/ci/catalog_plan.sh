#!/usr/bin/env bash
# The catalog job's plan: optionally upgrade the libraries in the lock, then print the shard
# list for the matrix (a step output in CI).
#   bash scripts/ci/catalog_plan.sh [--upgrade]
# Needs only a Python with pip (the upgrade reads package metadata; nothing is installed).
source "$(dirname "$0")/lib.sh"

if [ "${1:-}" = --upgrade ]; then
    # shellcheck disable=SC2086  # a list of library names
    "${BOOTSTRAP_PYTHON:-python3}" scripts/ci/upgrade_lock.py requirements/lock.txt $CATALOG_LIBRARIES
fi
set_output shards "[$(seq -s , 1 "$CATALOG_SHARDS")]"
set_output versions "$(grep -E "^($(echo "$CATALOG_LIBRARIES" | tr ' ' '|'))==" requirements/lock.txt | paste -sd ' ')"
