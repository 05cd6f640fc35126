"""`rfzoo erf NAME`: effective receptive field per stage, optionally as a PNG heat map.

Random weights on noise run the catalog's probe (`rfzoo.probe.api.gradient_maps`); library
weights (`--weights pretrained`) or real images (`--images DIR`) run `rfzoo.trained.maps`.
`rfzoo erf-trained` writes the catalog's trained-ERF files (`rfzoo.trained.catalog`).
"""

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
        description="Mean |input gradient| of each stage's center unit over random inputs or "
        "images (Luo et al. 2016). Parameters are randomly initialized unless --weights is given.",
    )
    p.add_argument("name", help="torchvision/NAME, timm/NAME, a bare name, or path/file.py:Factory")
    p.add_argument("--stage", metavar="S", help="one layer name (default: every stage)")
    p.add_argument("--png", metavar="FILE", help="write the heat map of the stage (or last stage)")
    p.add_argument("--input-size", nargs="+", type=int, metavar="N", help="N, or H W")
    p.add_argument("--in-channels", type=int, metavar="N",
                   help="input channels (default: the library's, else what the first layer expects)")
    p.add_argument("--weights", metavar="random|pretrained|FILE",
                   help="random (default: the documented init), pretrained (the library's own "
                   "weights, downloaded), or a state dict saved with torch.save")
    inputs = p.add_mutually_exclusive_group()
    inputs.add_argument("--images", metavar="DIR",
                        help="average over the images in DIR, through the model's own preprocessing "
                        "(default with --weights pretrained: the bundled photos)")
    inputs.add_argument("--noise", action="store_true",
                        help="average over N(0,1) inputs (the default unless --weights pretrained)")
    p.add_argument("--samples", type=int, default=8, help="noise inputs averaged (default 8)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.set_defaults(func=run)
    register_trained(subparsers)


def register_trained(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "erf-trained",
        help="write trained-vs-random-init ERF files (data/trained/) for catalog models",
        description="For each model: the ERF of its library's pretrained weights and of the "
        "documented random init, on the same images and preprocessing, into "
        "OUT/<source>/<name>.json.gz. Models whose file holds the same versions and images are "
        "skipped (rerun to resume); a failing model does not stop the others.",
    )
    p.add_argument("names", nargs="*", metavar="NAME", help="models (torchvision/NAME, timm/NAME)")
    p.add_argument("--default", action="store_true", help="the default catalog's models")
    p.add_argument("--out", metavar="DIR", default="data/trained", help="default: data/trained")
    p.add_argument("--images", metavar="DIR", help="default: the bundled photos")
    p.add_argument("--seed", type=int, default=0, help="of the random init")
    p.set_defaults(func=run_trained)


def run_trained(args: argparse.Namespace) -> int:
    from rfzoo.catalog.sources import DEFAULT_CATALOG
    from rfzoo.errors import RfzooError

    names = list(dict.fromkeys([*(DEFAULT_CATALOG if args.default else ()), *args.names]))
    if not names:
        raise RfzooError("name models, or --default for the default catalog")
    from rfzoo.trained.catalog import build_trained
    from rfzoo.trained.maps import ImageSet

    images = ImageSet.read(args.images)  # a bad folder fails before any model
    with contextlib.redirect_stdout(sys.stderr):
        report = build_trained(names, args.out, images, seed=args.seed)
    print(f"{len(report.written)} written, {len(report.skipped)} up to date, {len(report.failed)} failed "
          f"(into {args.out})")
    for name, reason in report.failed.items():
        print(f"failed: {name}: {reason}")
    return 1 if report.failed else 0


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
    weights = args.weights or "random"
    images = None
    if args.images or (weights == "pretrained" and not args.noise):
        from rfzoo.trained.maps import ImageSet

        images = ImageSet.read(args.images)  # a bad folder fails before any model is built
    prep = None
    # a user model may print while it is imported, built or run: stdout holds only our output
    with contextlib.redirect_stdout(sys.stderr):
        if images is None and weights != "pretrained":
            maps = gradient_maps(
                args.name,
                [args.stage] if args.stage else None,
                args.input_size,
                weights=None if weights == "random" else weights,
                samples=args.samples,
                seed=args.seed,
                in_channels=args.in_channels,
            )
        else:
            from rfzoo.trained.maps import measure

            maps, prep = measure(
                args.name,
                weights=weights,
                images=images,
                samples=args.samples,
                seed=args.seed,
                nodes=[args.stage] if args.stage else None,
                input_size=args.input_size,
                in_channels=args.in_channels,
            )
    first = maps[0]
    if images is not None and prep is not None:
        inputs_note = f"inputs: {len(images.names)} images from {images.folder} ({prep.description})"
        inputs_doc: dict = {"images": images.names, "folder": str(images.folder),
                            "preprocessing": prep.description}
    else:
        inputs_note = f"inputs: {args.samples} samples of N(0,1) noise"
        inputs_doc = {"noise": args.samples}
    weights_note = (
        f"weights: {first.weights}" if first.weights != "random" else f"weights: {first.init}"
    )
    if args.json:
        doc = {
            "model": first.model,
            "input_size": list(first.input_size),
            "weights": first.weights,
            "init": first.init,
            "samples": args.samples if images is None else len(images.names),
            "inputs": inputs_doc,
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
        print(f"{first.model} at {'x'.join(map(str, first.input_size))}")
        print(weights_note)
        print(inputs_note)
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
