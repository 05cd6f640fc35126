"""Shape propagation skips a recurrence on meta: the shapes equal what torch computes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rfzoo.trace import rnn_shapes


@pytest.mark.parametrize("make", [
    lambda: nn.LSTM(6, 5, batch_first=True),
    lambda: nn.LSTM(6, 5, num_layers=2, bidirectional=True),
    lambda: nn.LSTM(6, 5, proj_size=3, batch_first=True, bidirectional=True),
    lambda: nn.GRU(6, 4, num_layers=3, batch_first=True, bidirectional=True),
    lambda: nn.RNN(6, 4),
])
@pytest.mark.parametrize("shape", [(2, 7, 6), (7, 6)])
def test_rnn_shapes_equal_the_real_run(make, shape) -> None:
    rnn = make()
    real = rnn(torch.randn(shape))
    fake = rnn_shapes(rnn, torch.empty(shape, device="meta"))
    flat = lambda value: [t.shape for t in torch.utils._pytree.tree_leaves(value)]  # noqa: E731
    assert flat(fake) == flat(real)
    assert all(t.is_meta for t in torch.utils._pytree.tree_leaves(fake))
