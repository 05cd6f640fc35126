"""Recurrent layers (LSTM, GRU, RNN) run over a sequence of positions (Sequencer2d's rows
and columns).

A bidirectional recurrence makes every step read the whole sequence: along the axis
the sequence runs over, each unit reads the whole axis (a block as large as the axis);
along the axes folded into the batch dim, each unit reads its own position. That is
exact per axis and needs no global flag: a row LSTM is global along its row only.
A one-directional recurrence reads only the steps up to its own (a prefix, whose size
grows with the position): no transform says that yet, so it is refused.
"""

from __future__ import annotations

from torch import nn

from rfzoo import layout as L
from rfzoo.errors import UnsupportedOpError
from rfzoo.rules.common import same_layout_maps
from rfzoo.rules.registry import NodeSpec, RuleContext, rule
from rfzoo.transforms import BlockBroadcast


@rule(nn.LSTM, nn.GRU, nn.RNN)
def recurrent(ctx: RuleContext) -> NodeSpec:
    m = ctx.module
    name = type(m).__name__
    src = ctx.first_input()
    lay = ctx.in_layout(src)
    if len(lay) != 3:
        raise UnsupportedOpError(name, ctx.where, "unbatched input")
    seq_dim = 1 if m.batch_first else 0
    seq = lay[seq_dim]
    axis = seq.single_axis
    if not seq.is_spatial:  # a sequence over channels or time steps of one position: per position
        axis = None
    elif axis is None:
        raise UnsupportedOpError(name, ctx.where, f"sequence dim {seq} is not one whole spatial axis")
    elif not m.bidirectional:
        raise UnsupportedOpError(name, ctx.where, "one direction reads a growing prefix of the axis")
    out = (*lay[:-1], L.plain(ctx.value[0].shape[-1]))  # features: hidden size x directions
    maps = list(same_layout_maps(ctx, src, out))
    if axis is not None:
        maps[axis] = BlockBroadcast(seq.size)
    # The final states (h_n, c_n) get no layout (a nested tuple): reading them is refused.
    op = f"{name}({'bidirectional ' if m.bidirectional else ''}along axis {axis})" if axis is not None else name
    return NodeSpec("attention" if axis is not None else "pointwise", op, [(src, tuple(maps))], (out, None))
