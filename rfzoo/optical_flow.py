"""torchvision's RAFT as one analyzable model: two frames in, the final flow out.

rfzoo analyzes one input tensor, so `TwoFrameRaft` takes both frames stacked on the
channels, ``(N, 6, H, W)``: frame 1 in channels 0-2, frame 2 in 3-5. Both frames share
the spatial axes, so a unit's RF box is the union of what it reads in either frame.
The output is RAFT's final prediction: the flow after `num_flow_updates` iterations
(RAFT's default 12), upsampled to the input's resolution.

The forward is RAFT's own (`torchvision.models.optical_flow.raft.RAFT.forward`), run
on the model's own submodules and torchvision's own helpers, with two changes that
leave every value the same:

- RAFT's Python shape checks (``if h % 8: raise``) cannot run on fx proxies: the
  size checks become `torch._assert` (traced, evaluated when shapes propagate), and
  CorrBlock's checks run inside the two correlation functions, which fx keeps whole
  (`torch.fx.wrap`);
- RAFT detaches ``coords1`` at each iteration so that training does not backpropagate
  through the flow estimate. That is a choice about gradients, not values: the flow
  of iteration t still feeds the motion encoder and the correlation lookup of
  iteration t+1. The RF is a claim about values, and the gradient check measures it
  with input gradients, so the wrapper leaves the detach out.

Only the last iteration's flow is upsampled (RAFT upsamples every iteration's flow
for its training loss; the last one is its prediction).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models.optical_flow._utils import make_coords_grid, upsample_flow
from torchvision.models.optical_flow.raft import RAFT, CorrBlock

RAFT_DEFAULT_FLOW_UPDATES = 12
FRAME_CHANNELS = 3
RAFT_DOWNSAMPLING = 8


def all_pairs_correlation(fmap1: Tensor, fmap2: Tensor, num_levels: int) -> tuple[Tensor, ...]:
    """RAFT's correlation pyramid: the dot product of every position of fmap1 with every
    position of fmap2, (N*h*w, 1, h, w), then average-pooled by 2 `num_levels - 1` times.
    torchvision's `CorrBlock.build_pyramid` (a CorrBlock has no parameters), with the
    pyramid returned instead of kept on the module, so the graph carries it."""
    block = CorrBlock(num_levels=num_levels)
    block.build_pyramid(fmap1, fmap2)
    return tuple(block.corr_pyramid)


def correlation_lookup(pyramid: tuple[Tensor, ...], coords: Tensor, radius: int) -> Tensor:
    """torchvision's `CorrBlock.index_pyramid`: each position's correlation row sampled
    (bilinear `grid_sample`) in a (2r+1)^2 neighbourhood of `coords` at that position,
    at every level; (N, levels*(2r+1)^2, h, w)."""
    block = CorrBlock(num_levels=len(pyramid), radius=radius)
    block.corr_pyramid = list(pyramid)
    return block.index_pyramid(coords)


torch.fx.wrap("all_pairs_correlation")
torch.fx.wrap("correlation_lookup")
# torchvision's upsampling from 1/8 resolution, kept whole: its convex combination ends in a
# depth-to-space reshape (each 8x8 block of mask channels becomes the block's pixels), which
# rfzoo's layouts do not follow; its rule (rules/optical_flow.py) states the exact windows.
torch.fx.wrap("upsample_flow")


class TwoFrameRaft(nn.Module):
    """RAFT on a (N, 6, H, W) stack of two frames; returns the final (N, 2, H, W) flow.

    Holds RAFT's submodules under their own names, so layer names and state-dict keys
    are the torchvision model's (``feature_encoder.convnormrelu.0``, ``update_block...``).
    """

    def __init__(self, raft: RAFT, num_flow_updates: int = RAFT_DEFAULT_FLOW_UPDATES) -> None:
        super().__init__()
        self.feature_encoder = raft.feature_encoder
        self.context_encoder = raft.context_encoder
        self.update_block = raft.update_block
        self.mask_predictor = raft.mask_predictor
        self.num_levels = raft.corr_block.num_levels
        self.radius = raft.corr_block.radius
        self.hidden_state_size = raft.update_block.hidden_state_size
        self.num_flow_updates = num_flow_updates

    def forward(self, frames: Tensor) -> Tensor:
        batch_size, _, h, w = frames.shape
        torch._assert(frames.shape[1] == 2 * FRAME_CHANNELS, "RAFT takes two RGB frames stacked: 6 channels")
        torch._assert(h % RAFT_DOWNSAMPLING == 0, "RAFT's input height must be divisible by 8")
        torch._assert(w % RAFT_DOWNSAMPLING == 0, "RAFT's input width must be divisible by 8")
        image1, image2 = frames[:, :FRAME_CHANNELS], frames[:, FRAME_CHANNELS:]

        fmaps = self.feature_encoder(torch.cat([image1, image2], dim=0))
        fmap1, fmap2 = torch.chunk(fmaps, chunks=2, dim=0)
        pyramid = all_pairs_correlation(fmap1, fmap2, self.num_levels)

        context_out = self.context_encoder(image1)
        out_channels_context = context_out.shape[1] - self.hidden_state_size
        hidden_state, context = torch.split(context_out, [self.hidden_state_size, out_channels_context], dim=1)
        hidden_state = torch.tanh(hidden_state)
        context = F.relu(context)

        # in the features' dtype (RAFT's are float32 whatever the model's): the same values
        # for a float32 model, and a float64 one (the gradient check) can sample the volume
        grid = make_coords_grid(batch_size, h // RAFT_DOWNSAMPLING, w // RAFT_DOWNSAMPLING)
        coords0 = grid.to(device=fmap1.device, dtype=fmap1.dtype)
        coords1 = grid.to(device=fmap1.device, dtype=fmap1.dtype)
        for _ in range(self.num_flow_updates):
            corr_features = correlation_lookup(pyramid, coords1, self.radius)
            flow = coords1 - coords0
            hidden_state, delta_flow = self.update_block(hidden_state, context, corr_features, flow)
            coords1 = coords1 + delta_flow

        up_mask = None if self.mask_predictor is None else self.mask_predictor(hidden_state)
        return upsample_flow(flow=coords1 - coords0, up_mask=up_mask)


def two_frame_raft(build: Callable[[], RAFT], num_flow_updates: int = RAFT_DEFAULT_FLOW_UPDATES) -> TwoFrameRaft:
    return TwoFrameRaft(build(), num_flow_updates)
