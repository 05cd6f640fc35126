"""timm's Gemma4 vision encoder, which torch.fx alone cannot trace: its shape checks, patch
grid, rotary table and soft-token pooler are recorded as one call each (`rfzoo.opaque`), the
input's rank answers `x.ndim`, and the soft-token pooling has a rule, against gradients."""

from __future__ import annotations

import pytest
import torch
from oracle import assert_agree, compare, prepared
from timm.models.gemma4_vit import Gemma4PatchEmbed, Gemma4VitClassifier, Gemma4VitEncoder

from rfzoo.opaque import OPAQUE
from rfzoo.trace import trace

SMALL = dict(img_size=96, patch_size=16, embed_dim=32, depth=1, num_heads=2, head_dim=16,
             intermediate_size=64, pooling_kernel_size=3)


def encoder() -> Gemma4VitEncoder:
    torch.manual_seed(0)
    return Gemma4VitEncoder(global_pool="soft", **SMALL).eval()


@pytest.mark.parametrize("make", [encoder, lambda: Gemma4VitClassifier(num_classes=5, **SMALL).eval()])
def test_the_traced_graph_is_the_model(make) -> None:  # type: ignore[no-untyped-def]
    model = make()
    gm = trace(model, "timm", 4)
    x = torch.randn(2, 3, 96, 144)
    with torch.no_grad():
        assert torch.equal(gm(x), model(x))
    # the methods are the class's again once the trace is done
    for module in model.modules():
        assert not set(OPAQUE.get(type(module).__name__, {})) & set(vars(module))
    assert "_default_patch_coord" in vars(Gemma4PatchEmbed)


def test_soft_tokens_are_3x3_patch_cells() -> None:
    analysis, runner = prepared(encoder(), (96, 144), in_channels=3)  # patches flattened: no conv
    assert analysis.status == "exact"
    cells = analysis.layer("pooler.getitem")  # the pooler's tokens: 2 x 3 cells of 3 x 3 patches
    assert cells.output_size == [2, 3] and cells.rf == [48, 48] and cells.jump == [48, 48]
    assert cells.is_global  # attention over every patch comes first
    # with the attention paths detached, a cell's gradient covers its 48 x 48 pixels exactly
    for unit in ((0, 0), (1, 2), (0, 1)):
        assert_agree(compare(analysis, runner, ["pooler.getitem"], {"pooler.getitem": unit}))
    assert_agree(compare(analysis, runner, ["patch_embed.input_proj"], {"patch_embed.input_proj": (3, 4)}))


def test_a_size_the_pooler_cannot_take_is_refused() -> None:
    """The model's own shape check runs when the graph does (64 px: 4 patches, not 3k)."""
    from rfzoo import analyze
    from rfzoo.errors import RfzooError

    with pytest.raises(RfzooError, match="divisible by"):
        analyze(encoder(), (64, 64), in_channels=3)
