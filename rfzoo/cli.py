"""The `rfzoo` command line. Each subcommand lives in its own module with a `register` function."""

from __future__ import annotations

import argparse
import importlib
import sys

from rfzoo.errors import RfzooError

# module path -> registers one or more subcommands on the parser
SUBCOMMAND_MODULES = (
    "rfzoo.commands.show",
    "rfzoo.catalog.cli",
    "rfzoo.probe.cli",
    "rfzoo.diff",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rfzoo", description="Exact, gradient-verified receptive fields of vision models."
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module_name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name and module_name.startswith(err.name):
                continue  # a subcommand package not present in this checkout
            raise
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except RfzooError as err:
        print(f"rfzoo: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("rfzoo: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
