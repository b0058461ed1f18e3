"""A/B start-up of two builds of Hearth, interleaved in one browser: which change helps, despite the noise.

    .venv/bin/python bench/ab.py DIST_A DIST_B [--rounds 3]

Prints each load's milestones (ms from navigation start: go, worker, start, python, bundle, packages, panel,
document, drawn, ready) and the medians per build and load kind.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import tti
from harness import launch_startup
from sitebuild.server import SiteServer

STEPS = ["go", "worker", "start", "python", "bundle", "packages", "panel", "document", "drawn", "ready"]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("dists", nargs=2, type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    results: dict[tuple[str, str], list[dict]] = {}
    with SiteServer(args.dists[0]) as a, SiteServer(args.dists[1]) as b, sync_playwright() as pw:
        browser = launch_startup(pw)
        print(f"{'':>3} {'build':<6} {'load':<5}" + "".join(f"{s:>9}" for s in STEPS))
        for round_ in range(args.rounds):
            runs = {name: tti.Run.open(browser, "hearth", srv.url, (srv.url,)) for name, srv in (("A", a), ("B", b))}
            for load in ("cold", "warm"):
                for name in ("A", "B"):
                    run = runs[name]
                    run.load(load)
                    marks = run.page.evaluate("window.hearth.timings")
                    results.setdefault((name, load), []).append(marks)
                    cells = "".join(f"{marks.get(s, 0):>9}" for s in STEPS)
                    print(f"{round_:>3} {name:<6} {load:<5}{cells}", flush=True)
            for run in runs.values():
                run.context.close()
        browser.close()
    print("\nmedians")
    for load in ("cold", "warm"):
        for name in ("A", "B"):
            rows = results[(name, load)]
            cells = "".join(f"{statistics.median(r.get(s, 0) for r in rows):>9.0f}" for s in STEPS)
            print(f"    {name:<6} {load:<5}{cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
