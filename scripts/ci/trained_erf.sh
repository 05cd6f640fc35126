#!/usr/bin/env bash
# Trained-vs-random-init ERFs of the default catalog (rfzoo erf-trained) into OUT:
#   bash scripts/ci/trained_erf.sh [OUT]    # OUT: $CATALOG_DATA_DIR/trained by default
# Needs the network: timm's weights come from the Hugging Face Hub, torchvision's from
# download.pytorch.org. Resumable: a model whose file holds the installed versions is skipped,
# so a run on the committed data recomputes only what a library upgrade changed. A model that
# fails keeps its previous file and becomes a warning: trained ERFs never hold up the catalog.
source "$(dirname "$0")/lib.sh"

out=${1:-$CATALOG_DATA_DIR/trained}
status=0
rfzoo erf-trained --default --out "$out" || status=$?
if [ "$status" -ne 0 ]; then
    echo "::warning::rfzoo erf-trained exited with $status: the models listed above keep their previous files"
fi
echo "trained ERFs in $out"
