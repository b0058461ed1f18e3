"""Where Hearth's start-up time goes: the boot screen's status line, timed, for a cold and a warm load.

    .venv/bin/python bench/profile_boot.py [--reuse-dist] [--python CODE]

Prints each status change with its ms from navigation start (the same clock as bench/tti.py), then
optionally runs CODE in the worker (e.g. an import-time probe) and prints its result.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(BENCH))

import tti  # noqa: E402
from sitebuild.server import SiteServer  # noqa: E402

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

    from sitebuild.site import build

    if not (args.reuse_dist and (REPO / "dist" / "index.html").exists()):
        build()
    with SiteServer(REPO / "dist") as srv, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=tti.CHROMIUM, args=tti.CHROMIUM_ARGS + tti.BLOCK_ARGS)
        context = browser.new_context(service_workers="allow")
        context.add_init_script(tti.TTI_SCRIPT)
        context.add_init_script(TIMELINE_SCRIPT)
        run = tti.Run("hearth", context, srv.url, (srv.url,))
        for load in ("cold", "warm"):
            if load == "warm":
                run.settle()
                time.sleep(1.0)
            ms, n = run.tti(reload=load == "warm")
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
