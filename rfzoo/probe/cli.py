"""`rfzoo erf NAME`: effective receptive field per stage, optionally as a PNG heat map."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "erf",
        help="measure the effective receptive field (gradient map) of a model's stages",
        description="Mean |input gradient| of each stage's center unit over random inputs "
        "(Luo et al. 2016). Parameters are randomly initialized unless --weights is given.",
    )
    p.add_argument("name", help="torchvision/NAME, timm/NAME, a bare name, or path/file.py:Factory")
    p.add_argument("--stage", metavar="S", help="one layer name (default: every stage)")
    p.add_argument("--png", metavar="FILE", help="write the heat map of the stage (or last stage)")
    p.add_argument("--input-size", nargs="+", type=int, metavar="N", help="N, or H W")
    p.add_argument("--in-channels", type=int, metavar="N",
                   help="input channels (default: the library's, else what the first layer expects)")
    p.add_argument("--weights", metavar="PATH", help="a state dict saved with torch.save")
    p.add_argument("--samples", type=int, default=8, help="random inputs averaged (default 8)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rfzoo.commands.user_file import check_name
    from rfzoo.errors import RfzooError

    check_name(args.name)  # before torch is imported
    from rfzoo.probe.api import gradient_maps
    from rfzoo.probe.png import write_png

    if args.samples < 1:
        raise RfzooError("--samples must be at least 1")
    if args.png:
        _check_writable(args.png)  # before minutes of computing, not after
    # a user model may print while it is imported, built or run: stdout holds only our output
    with contextlib.redirect_stdout(sys.stderr):
        maps = gradient_maps(
            args.name,
            [args.stage] if args.stage else None,
            args.input_size,
            weights=args.weights,
            samples=args.samples,
            seed=args.seed,
            in_channels=args.in_channels,
        )
    first = maps[0]
    weights_note = (
        f"weights: {first.weights}" if first.weights != "random" else f"weights: {first.init}"
    )
    if args.json:
        doc = {
            "model": first.model,
            "input_size": list(first.input_size),
            "weights": first.weights,
            "init": first.init,
            "samples": args.samples,
            "stages": [
                {
                    "node": m.node,
                    "unit": list(m.unit),
                    "rf_box": [list(b) for b in m.rf_box],
                    **m.metrics,
                }
                for m in maps
            ],
        }
        sys.stdout.write(json.dumps(doc, indent=1) + "\n")
    else:
        print(f"{first.model} at {'x'.join(map(str, first.input_size))}, {args.samples} samples")
        print(weights_note)
        header = f"{'stage':<28} {'TRF':>9} {'r20':>6} {'r50':>6} {'r99':>6} {'ERF/TRF':>8} {'offset':>14}"
        print(header)
        for m in maps:
            rf = "x".join(str(b - a + 1) for a, b in m.rf_box)
            r = m.metrics["radius"]
            off = ",".join(f"{v:+g}" for v in m.metrics["offset"])
            print(
                f"{m.node[:28]:<28} {rf:>9} {r['20']:>6} {r['50']:>6} {r['99']:>6} "
                f"{m.metrics['erf_trf_ratio']:>8} {off:>14}"
            )
    if args.png:
        chosen = maps[-1]
        try:
            path = write_png(chosen.crop(), args.png)
        except OSError as err:
            raise RfzooError(f"cannot write --png {args.png}: {err.strerror or err}") from None
        print(f"wrote {path} ({chosen.node}, RF box {chosen.rf_box})", file=sys.stderr)
    return 0


def _check_writable(png: str) -> None:
    from rfzoo.errors import RfzooError

    path = Path(png)
    if path.is_dir():
        raise RfzooError(f"--png {png} is a folder: give a file name")
    folder = path.parent
    if not folder.is_dir():
        raise RfzooError(f"--png {png}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise RfzooError(f"--png {png}: folder {folder} is not writable")
