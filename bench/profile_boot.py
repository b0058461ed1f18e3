"""Where Hearth's start-up time goes: the boot screen's status line, timed, for a cold and a warm load.

    .venv/bin/python bench/profile_boot.py [--reuse-dist] [--python CODE]

Prints each status change with its ms from navigation start (the same clock as bench/tti.py), then
optionally runs CODE in the worker (e.g. an import-time probe) and prints its result.
"""

from __future__ import annotations

import argparse
import sys

import tti
from harness import built_dist, launch_startup
from sitebuild.server import SiteServer

TIMELINE_SCRIPT = """
(() => {
  if (window !== window.top) return;
  window.__timeline = [];
  let last = null;
  const note = () => {
    const el = document.getElementById("boot-status");
    const text = el ? el.textContent : null;
    if (text && text !== last) { last = text; window.__timeline.push([performance.now(), text]); }
  };
  new MutationObserver(note).observe(document, {subtree: true, childList: true, characterData: true});
})();
"""


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reuse-dist", action="store_true")
    parser.add_argument("--python", help="Python to run in the worker after the warm load")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    dist = built_dist(args.reuse_dist)
    with SiteServer(dist) as srv, sync_playwright() as pw:
        browser = launch_startup(pw)
        run = tti.Run.open(browser, "hearth", srv.url, (srv.url,), TIMELINE_SCRIPT)
        for load in ("cold", "warm"):
            ms, n = run.load(load)
            print(f"\n{load}: interactive at {ms:.0f} ms, {n} requests")
            for t, text in run.page.evaluate("window.__timeline"):
                print(f"  {t:>8.0f}  {text}")
            print("  milestones:", run.page.evaluate("JSON.stringify(window.hearth.timings)"))
        if args.python:
            print(run.page.evaluate("code => window.hearth.python(code)", args.python))
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
