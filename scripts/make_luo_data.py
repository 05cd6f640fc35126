"""Write data/luo.json: Luo et al.'s sqrt(n) ERF law measured by rfzoo's gradient maps.
The site's method page plots it. Run: .venv/bin/python scripts/make_luo_data.py"""

from __future__ import annotations

import sys
from pathlib import Path

from rfzoo.export import to_json
from rfzoo.probe.luo import luo_curve

target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "data" / "luo.json"
target.parent.mkdir(parents=True, exist_ok=True)
target.write_text(to_json(luo_curve()))
print(f"wrote {target}")
