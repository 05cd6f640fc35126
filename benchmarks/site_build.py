"""Build the whole site from a data directory and print its budgets.

    .venv/bin/python benchmarks/site_build.py [--data DATA_DIR] [--out SITE_DIR] [--profile FILE]

Prints the strict `mkdocs build` time, the largest page's HTML (model pages' budget: 200 KB),
the search index (budget: 3 MB), the model page data files and the whole site's size. With
--profile the build runs under cProfile and the slowest functions are printed too.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUDGET_SECONDS, BUDGET_PAGE, BUDGET_SEARCH = 300, 200_000, 3_000_000


def build(data: Path, out: Path, profile: Path | None) -> float:
    env = {**os.environ, "RFZOO_DATA_DIR": str(data), "NO_MKDOCS_2_WARNING": "1"}
    cmd = [sys.executable]
    if profile:
        cmd += ["-m", "cProfile", "-o", str(profile)]
    cmd += ["-m", "mkdocs", "build", "--strict", "-q", "-f", str(REPO / "mkdocs.yml"), "-d", str(out)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"mkdocs build failed:\n{proc.stdout}{proc.stderr}")
    return seconds


def sizes(site: Path) -> dict[str, object]:
    files = [p for p in site.rglob("*") if p.is_file()]
    pages = [(p.stat().st_size, str(p.relative_to(site))) for p in files if p.name == "index.html"]
    models = [s for s in pages if s[1].startswith("models/")]
    data = [(p.stat().st_size, str(p.relative_to(site))) for p in files if p.name.endswith(".page.json.gz")]
    return {
        "pages": len(pages), "model_pages": len(models),
        "largest_page": max(pages), "largest_model_page": max(models, default=(0, "-")),
        "search_index": (site / "search" / "search_index.json").stat().st_size,
        "page_data_total": sum(s for s, _ in data), "largest_page_data": max(data, default=(0, "-")),
        "site_total": sum(p.stat().st_size for p in files),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO / "data")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--profile", type=Path, default=None)
    args = ap.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="rfzoo-site-"))
    n_docs = sum(1 for _ in (args.data / "models").glob("*/*.json*"))
    seconds = build(args.data.resolve(), out, args.profile)
    s = sizes(out)
    kb = 1000
    print(f"data: {args.data} ({n_docs} model documents); site: {out}")
    print(f"build (mkdocs build --strict): {seconds:.1f} s (budget {BUDGET_SECONDS} s)")
    print(f"pages: {s['pages']}, model pages: {s['model_pages']}")
    size, path = s["largest_model_page"]
    print(f"largest model page: {size / kb:.1f} KB {path} (budget {BUDGET_PAGE / kb:.0f} KB)")
    size, path = s["largest_page"]
    print(f"largest page: {size / kb:.1f} KB {path}")
    print(f"search index: {s['search_index'] / kb / kb:.2f} MB (budget {BUDGET_SEARCH / kb / kb:.2f} MB)")
    size, path = s["largest_page_data"]
    print(f"page data: {s['page_data_total'] / kb / kb:.1f} MB in all, largest {size / kb:.1f} KB {path}")
    print(f"site total: {s['site_total'] / kb / kb:.1f} MB")
    if args.profile:
        import pstats

        pstats.Stats(str(args.profile)).sort_stats("cumulative").print_stats(30)


if __name__ == "__main__":
    main()
