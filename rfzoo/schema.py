"""The shape of rfzoo's data: one JSON document per analyzed model, and the catalog index.

This module is the contract between the analysis (which writes these documents),
the catalog build (which stores them), the gradient probe (which adds
`verification` and `erf`) and the site (which reads them without importing torch).

Per-axis values are lists ordered like the input's spatial axes: [H, W] for
images, [T, H, W] for video. Floats are rounded with `round_float` so that the
same inputs always give the same bytes.

Model document (``data/models/<source>/<name>.json``)::

    {
      "schema": 2,                        # 2: adds unit_boxes
      "source": "torchvision" | "timm" | "user",
      "name": "resnet50",
      "model": "torchvision/resnet50",
      "family": "resnet",
      "task": "classification" | "segmentation" | "detection" | "keypoint"
              | "video" | "optical_flow" | "quantized" | "user",
      "input_size": [224, 224],           # spatial input size analyzed
      "params": 25557032,                 # parameter count (int) or null
      "versions": {"torch": "...", "torchvision": "...", "timm": "...", "rfzoo": "..."},
      "status": "exact" | "partial" | "failed",
      "reason": "",                       # one line, empty when exact
      "summary": {                        # the last node that still has spatial resolution
        "node": "layer4.2.relu_2",
        "rf": [427, 427], "rf_min": [35, 35], "jump": [32, 32],
        "center": [-0.5, -0.5], "effective_padding": [213, 213],
        "output_size": [7, 7],
        "global": false,                  # true when global context reaches that node
        "global_from": "avgpool"          # global: the op from which the node sees the whole input;
                                          # else the first op that depends on all positions, or null
      },
      "layers": [                         # every traced node with a tensor output, in graph order
        {
          "name": "layer1.0.conv1",       # fx node name (module path with dots)
          "op": "Conv2d(k=1, s=1, p=0)",  # short label of what the node does
          "kind": "conv",                 # rule kind: input|conv|pool|pad|resample|merge|pointwise|global|reshape|...
          "output_size": [56, 56],        # null entries for axes the node no longer has
          "rf": [35, 35],                 # largest RF over all paths and unit positions (null: no local RF)
          "rf_min": [35, 35],             # smallest path's RF
          "jump": [4, 4],                 # float when fractional (after upsampling)
          "center": [-0.5, -0.5],         # center of unit 0's RF in input pixel coordinates
          "effective_padding": [17, 17],  # how far unit 0's RF reaches before pixel 0
          "global": false,                # depends on every input position through some path
          "aligned": true,                # false when a merge joins inputs with different jumps/centers
          "position_dependent": false,    # RF differs with the unit's position (after upsampling)
          "border_units": [1, 1]          # units per axis whose RF is cut by the image border
        }
      ],
      "stages": [                         # where a feature map of a new resolution ends
        {"name": "layer1", "node": "layer1.2.relu_2", "rf": [99, 99], "jump": [4, 4],
         "output_size": [56, 56], "declared_reduction": 4, "reduction_matches": true}
      ],
      "unit_boxes": null | {              # exact per-unit boxes of the position-dependent layers
        "axes": [                         # distinct axes; every unit u of one, in input pixels:
          {"head": [[lo, hi], ...],       #   u < len(head): head[u]
           "cycle": [[lo, hi], ...],      #   then cycle[v % p] + (v // p) * shift, v = u - len(head),
           "shift": 8,                    #   p = len(cycle) (empty: head and tail hold every unit)
           "tail": [[lo, hi], ...]}       #   the last len(tail) units: tail, in order
        ],
        "layers": {"interpolate": [0, 0]} # per position-dependent layer and axis: an index into
      },                                  # axes (null: no local RF); a unit's box is the product
                                          # of its axes' intervals (== Analysis.unit_box)
      "feature_info_mismatches": [],      # stages whose library-declared reduction != computed jump
      "links": {"source": "https://...", "paper": "https://..."},
      "verification": null | {            # added by the gradient probe (rfzoo.probe)
        "dtype": "float64", "samples": 3, "input_size": [..],
        "stages": [{"node": ..., "unit": [..], "measured_box": [[a0, b0], [a1, b1]],
                    "analytic_box": [[a0, b0], [a1, b1]], "agree": true}],
        "verified": true
      },
      "erf": null | {                     # added by the gradient probe
        "weights": "random", "init": "...", "input_size": [..], "samples": 8,
        "stages": [{"node": ..., "radius": {"20": r, "30": r, "50": r, "99": r},
                    "erf_trf_ratio": 0.12, "offset": [dy, dx],
                    "heatmap": {"shape": [h, w], "scale": s, "origin": [y0, x0], "data": "base64 uint8"}}]
      }
    }

Catalog index (``data/index.json`` and ``data/index.csv``): one row per model with
the columns of INDEX_COLUMNS; ``rf`` and ``jump`` are the summary's values written
as ``HxW`` strings in the CSV and lists in the JSON (``rf`` is the local-path RF:
geometry, not everything the node sees); ``rf_ratio`` is the largest spatial RF / input
ratio and ``rf_ratio_time`` the time axis's (video, ``[T, H, W]``; empty otherwise);
``whole_input_from`` names the layer from which the summary node sees the whole input
(a global op on a path into it: attention, token mixing, an SE gate), empty when its RF
is local; ``verified`` is true, false or empty (not measured), and ``verify_note`` says
why a model is not verified (not measured and why, or where it disagrees). For a
``partial`` model the RF is a lower bound.
"""

from __future__ import annotations

# 2: `unit_boxes` (exact boxes after upsampling); readers treat a missing one as none.
SCHEMA_VERSION = 2


def __getattr__(name: str) -> object:
    """`INDEX_COLUMNS` lives with `index_row` in rfzoo.catalog.rows (outside the cache key)."""
    if name == "INDEX_COLUMNS":
        from rfzoo.catalog.rows import INDEX_COLUMNS

        return INDEX_COLUMNS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def round_float(value: float, digits: int = 4) -> float | int:
    """Round for stable JSON: integral values become ints, others keep `digits` decimals."""
    if float(value).is_integer():
        return int(value)
    return round(float(value), digits)
