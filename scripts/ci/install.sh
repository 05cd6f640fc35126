#!/usr/bin/env bash
# Install the pinned lock (requirements/lock.txt) into .venv, as every CI job does.
#   bash scripts/ci/install.sh full   # everything: the catalog jobs
#   bash scripts/ci/install.sh site   # no torch, torchvision, timm: the site never imports them
# The lock is a pip freeze of a CUDA machine; no CI job has a GPU, so torch and torchvision come
# from TORCH_INDEX_URL (CPU wheels, a tenth of the download) and the CUDA-only pins are skipped.
# TORCH_INDEX_URL= (empty) installs the lock verbatim.
source "$(dirname "$0")/lib.sh"

mode=${1:-full}
case $mode in full | site) ;; *) echo "usage: $0 [full|site]" >&2; exit 2 ;; esac
TORCH_INDEX_URL=${TORCH_INDEX_URL-https://download.pytorch.org/whl/cpu}

if [ ! -x "$PYTHON" ]; then
    "${BOOTSTRAP_PYTHON:-python3}" -m venv "$ROOT/.venv"
fi
pip=("$PYTHON" -m pip install --quiet --disable-pip-version-check)

cuda_only='^(nvidia-|cuda-|triton==)'
torch_pins='^(torch|torchvision)=='
reqs=$(mktemp)
trap 'rm -f "$reqs"' EXIT
if [ "$mode" = site ]; then
    grep -v -E "$cuda_only|$torch_pins|^timm==" requirements/lock.txt >"$reqs"
elif [ -n "$TORCH_INDEX_URL" ]; then
    # --no-deps: torch's own dependencies are pinned in the lock, installed next from PyPI
    grep -E "$torch_pins" requirements/lock.txt |
        xargs "${pip[@]}" --no-deps --index-url "$TORCH_INDEX_URL"
    grep -v -E "$cuda_only|$torch_pins" requirements/lock.txt >"$reqs"
else
    cp requirements/lock.txt "$reqs"
fi
"${pip[@]}" -r "$reqs"
"${pip[@]}" --no-deps --editable .
echo "installed ($mode) into $("$PYTHON" -c 'import sys; print(sys.prefix)')"
