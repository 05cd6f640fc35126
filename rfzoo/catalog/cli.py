"""`rfzoo build`, `rfzoo merge` and `rfzoo coverage`: the catalog commands."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rfzoo.catalog import sources
from rfzoo.errors import RfzooError, UnknownModelError


def _shard(text: str) -> tuple[int, int]:
    index, sep, count = text.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard takes I/N, e.g. 1/4, not {text!r}") from None
    if not sep or n < 1 or not 1 <= i <= n:
        raise argparse.ArgumentTypeError(f"--shard I/N needs 1 <= I <= N, not {text!r}")
    return i, n


def register(subparsers: argparse._SubParsersAction) -> None:
    from rfzoo.catalog.runner import DEFAULT_DATA_DIR, WORKER_FLOOR_GB

    p = subparsers.add_parser(
        "build", help="build catalog data: one JSON per model, index.json and index.csv",
        description="Analyze models in isolated workers; cached models are not recomputed.",
    )
    which = p.add_mutually_exclusive_group()
    which.add_argument("--default", action="store_true", help="the curated default catalog (default)")
    which.add_argument("--all", action="store_true", help="every torchvision and timm model")
    p.add_argument("names", nargs="*", metavar="NAME",
                   help="torchvision/NAME, timm/NAME, a bare name, or path/file.py:Factory")
    p.add_argument("--jobs", "-j", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--shard", type=_shard, metavar="I/N", help="build only shard I of N (1-based)")
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                   help="catalog data directory (default: data/ at the repository root)")
    p.add_argument("--no-probe", action="store_true",
                   help="skip gradient verification and ERF (a quick build)")
    p.add_argument("--probe-level", choices=("auto", "full", "stages"), default=None,
                   help="full: every layer's support and the ERF maps; stages: one unit of each "
                        "stage and of the summary node, no ERF (several times cheaper); auto: "
                        "full for the default catalog's models, stages for the others "
                        "(default: auto with --all, else full)")
    p.add_argument("--timeout", type=float, default=600.0, metavar="S",
                   help="seconds per model before it is recorded as failed for this build "
                        "(the next build tries it again; default 600)")
    p.add_argument("--memory-gb", type=float, default=None, metavar="G",
                   help="address-space limit per worker in GB, 0 for none "
                   "(default: 80%% of the RAM divided by the workers; --jobs is lowered so "
                   f"that each gets at least the {WORKER_FLOOR_GB:g} GB a worker needs)")
    p.add_argument("--input-size", nargs="+", type=int, metavar="N",
                   help="analyze at this size (N, H W or T H W) instead of each model's default")
    p.add_argument("--retry-failed", action="store_true",
                   help="recompute models whose cached status is failed, or whose probe "
                        "failed (out of memory, time limit)")
    p.set_defaults(func=run_build)

    m = subparsers.add_parser(
        "merge", help="join the data directories of sharded builds",
        description="Copy the models of every DIR into the output directory, whose models, "
        "cache entries and index are replaced: a model no DIR has is removed from it. The "
        "output must be empty, missing or a catalog data directory (one of the DIRs is fine).",
    )
    m.add_argument("dirs", nargs="+", type=Path, metavar="DIR")
    m.add_argument("--output", "-o", type=Path, required=True, metavar="DIR")
    m.set_defaults(func=run_merge)

    c = subparsers.add_parser("coverage", help="exact/partial/failed counts of a catalog, and verified counts, by reason")
    c.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    c.add_argument("--reasons", type=int, default=30,
                   help="reasons to list per status (default 30; 0 lists none)")
    c.set_defaults(func=run_coverage)


def check_build_args(args: argparse.Namespace) -> None:
    """Numbers a build cannot run with, refused before anything starts."""
    if args.jobs < 1:
        raise RfzooError("--jobs must be at least 1")
    if not args.timeout > 0:  # also NaN
        raise RfzooError(f"--timeout must be a positive number of seconds, not {args.timeout:g}")
    if args.memory_gb is not None and not args.memory_gb >= 0:
        raise RfzooError(f"--memory-gb must be a positive number of GB, or 0 for no limit, "
                         f"not {args.memory_gb:g}")
    size = args.input_size
    if size is not None and (len(size) > 3 or min(size) < 1):
        raise RfzooError("--input-size takes 1 to 3 positive integers (N, H W or T H W), not "
                         + " ".join(map(str, size)))
    if (args.all or args.default) and args.names:
        raise RfzooError("give --default, --all or model names, not several")


def parse_names(names: list[str]) -> list[sources.ModelRef]:
    """Refs of the names on the command line; an unknown name is an error before any work."""
    refs = [sources.parse_ref(name) for name in names]
    for ref in refs:
        module = ref.name.rpartition(":")[0]
        if ref.source == "user" and module.endswith(".py") and not Path(module).is_file():
            raise UnknownModelError(f"no such file {module!r} in {ref.name!r}")
    return refs


def run_build(args: argparse.Namespace) -> int:
    from rfzoo.catalog.runner import BuildOptions, build

    check_build_args(args)
    if args.all:
        refs = sources.all_refs()
    elif args.names:
        refs = parse_names(args.names)
    else:
        refs = sources.default_refs()
    if args.shard:
        refs = sources.shard(refs, *args.shard)
    options = BuildOptions(
        data_dir=args.data_dir,
        jobs=args.jobs,
        timeout=args.timeout,
        memory_gb=args.memory_gb,
        probe=not args.no_probe,
        probe_level=args.probe_level or ("auto" if args.all else "full"),
        input_size=list(args.input_size) if args.input_size else None,
        retry_failed=args.retry_failed,
    )
    report = build(refs, options)
    for line in report.summary_lines():
        print(line, file=sys.stderr)
    if report.interrupted:
        print("rfzoo: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    return 0


def run_merge(args: argparse.Namespace) -> int:
    from rfzoo.catalog.merge import merge

    count = merge(args.dirs, args.output)
    print(f"merged {count} models into {args.output}", file=sys.stderr)
    return 0


def run_coverage(args: argparse.Namespace) -> int:
    from rfzoo.catalog import store
    from rfzoo.catalog.coverage import coverage_lines, verification_lines

    if args.reasons < 0:
        raise RfzooError(f"--reasons must be 0 or more, not {args.reasons}")
    rows = store.read_index(args.data_dir / "index.json")
    try:
        for line in [*coverage_lines(rows, max_reasons=args.reasons),
                     *verification_lines(rows, max_reasons=args.reasons)]:
            print(line)
    except BrokenPipeError:  # `rfzoo coverage | head`
        sys.stdout = None  # type: ignore[assignment]
    return 0
