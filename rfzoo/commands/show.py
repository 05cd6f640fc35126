"""`rfzoo show NAME`: the receptive-field table of one model."""

from __future__ import annotations

import argparse
import contextlib
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("show", help="print the per-layer receptive-field table of a model")
    p.add_argument("name", help="torchvision/NAME, timm/NAME, a bare name, or path/file.py:Factory")
    p.add_argument("--input-size", nargs="+", type=int, metavar="N", help="N, or H W (T H W for video)")
    p.add_argument("--in-channels", type=int, metavar="N",
                   help="input channels (default: the library's, else what the first layer expects)")
    p.add_argument("--format", choices=("table", "json", "csv", "markdown"), default="table")
    p.add_argument("--partial", action="store_true", help="analyze what can be analyzed past an unsupported op")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rfzoo.commands.user_file import check_name

    check_name(args.name)  # before torch is imported
    from rfzoo.analysis import analyze

    # a user model may print while it is imported, built or traced: stdout holds only the document
    with contextlib.redirect_stdout(sys.stderr):
        analysis = analyze(args.name, args.input_size, allow_partial=args.partial, in_channels=args.in_channels)
    render = {"table": analysis.to_table, "json": analysis.to_json, "csv": analysis.to_csv,
              "markdown": analysis.to_markdown}[args.format]
    sys.stdout.write(render())
    if analysis.status != "exact":
        print(f"rfzoo: warning: {analysis.reason}", file=sys.stderr)
    return 0
