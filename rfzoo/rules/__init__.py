"""One small handler per op kind: what an fx node does to the receptive field.

Each handler gets a `RuleContext` for one node (its module, arguments, traced input
and output values, and input layouts) and returns a `NodeSpec`: the per-axis
transform from each input, the output layout, and whether the op mixes all
positions. The registry (`registry.py`) maps module classes, functions and method
names to handlers; registering a key twice is an error. An op without a handler
raises `UnsupportedOpError` naming it: nothing is ever treated as identity by default.

The handlers live by op family, one module each, so the file name says where a rule is:

- `windows.py`: convolutions and transposed convolutions
- `pools.py`: max/average/adaptive pooling
- `resampling.py`: padding, cropping, interpolation, pixel (un)shuffle
- `pointwise.py`: activations, arithmetic, per-channel norms
- `normalization.py`: layer/RMS/group/instance norms
- `shape.py`: permute, reshape, getitem, split, cat, roll
- `unfold.py`: unfold (im2col), fold (col2im), Tensor.unfold
- `mixing.py`: linear, softmax, reductions, matmul, attention, einsum
- `recurrent.py`: LSTM/GRU/RNN run along one axis (Sequencer)
- `optical_flow.py`: RAFT's all-pairs correlation and its lookup at the current flow
- `timm_leaves.py`: timm leaf modules with exact rules (local window attention, TinyViT, NaFlexViT, ...)
- `torchvision_blocks.py`, `timm_blocks.py`: library-specific functions and leaf modules

Opaque timm leaves that mix all positions (`GLOBAL_LEAVES`) count as global context
as a whole, with a note saying why: their internal local paths are not visible.
"""

from rfzoo.rules import (  # noqa: F401  (importing a family registers its rules)
    mixing,
    normalization,
    optical_flow,
    pointwise,
    pools,
    recurrent,
    resampling,
    shape,
    timm_blocks,
    timm_leaves,
    torchvision_blocks,
    unfold,
    windows,
)
from rfzoo.rules.registry import NodeSpec, RuleContext, describe, find_handler, register_rule, rule

__all__ = ["NodeSpec", "RuleContext", "describe", "find_handler", "register_rule", "rule"]
