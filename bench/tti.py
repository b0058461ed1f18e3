"""Time to interactive, cold and warm: Hearth's app shell against `panel convert --to pyodide-worker`.

    .venv/bin/python bench/tti.py [--rounds 3] [--reuse-dist] [--json PATH]

Both sites are served from 127.0.0.1 by sitebuild.server (same server, same COOP/COEP/CORP and
Cache-Control headers; the peer's CSP additionally allows the inline scripts and eval its converted
page needs) and loaded in one headless Debian Chromium with the tests' flags (tests/conftest.py).
Any request for another host is refused by the browser's resolver and reported; the run fails if
there is one (bench/harness.py: request interception is not used because it switches Chromium's
HTTP cache off, which would make every warm peer run a cold one).

Time to interactive = ms from navigation start (`performance.now()` in the page) until
  Hearth: `<html data-ready="true">`, which boot.js sets once the worker has linked Python's document
          to the drawn one (widgets answer from then on);
  peer:   `<body>` loses its `pn-loading` class, which the converted page does right after drawing
          the worker's document and just before asking the worker to link it (a few ms earlier than
          Hearth's point, so the comparison slightly favours the peer).
Both are recorded by a MutationObserver in the page, so polling adds nothing.

Cold = a new browser context (empty HTTP cache, no service worker). Warm = a reload in the same
context once the first load finished, and for Hearth once its service worker has cached the site
and controls the page. Runs are interleaved (Hearth cold, peer cold, Hearth warm, peer warm) per
round, so drifts in machine load hit both alike; medians and the ratios Hearth/peer are printed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
import time
from pathlib import Path

import peer
from harness import RESULTS, built_dist, launch_startup
from sitebuild.server import Handler, SiteServer
from sitebuild.site import WORKER_CSP

WAIT_MS = 300_000
TARGETS = {"cold": 0.5, "warm": 0.3}
APP_BUTTON = "Check the compute engine"

# Runs in every page before its own scripts: notes the moment the app becomes interactive.
TTI_SCRIPT = """
(() => {
  if (window !== window.top) return;
  const peer = location.pathname.endsWith("/peer_app.html");
  const check = () => {
    const html = document.documentElement;
    if (!html || html.dataset.benchTti) return;
    const ready = peer ? document.body && !document.body.classList.contains("pn-loading")
                       : html.dataset.ready === "true";
    if (ready) html.dataset.benchTti = performance.now().toFixed(1);
  };
  const watched = {subtree: true, attributes: true, attributeFilter: ["class", "data-ready"]};
  new MutationObserver(check).observe(document, watched);
})();
"""


class PeerHandler(Handler):
    """Hearth's handler, with a CSP that lets the converted page run its inline scripts and eval."""

    def send_header(self, keyword: str, value: str) -> None:
        if keyword == "Content-Security-Policy":
            value = WORKER_CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")
        super().send_header(keyword, value)


def peer_server(root: Path) -> SiteServer:
    return SiteServer(root, handler=PeerHandler)


class Requests:
    """Every request the browser made for a context; the ones not for our two servers are foreign."""

    def __init__(self, origins: tuple[str, ...]) -> None:
        self.origins = origins
        self.count = 0
        self.foreign: list[str] = []

    def __call__(self, request) -> None:
        self.count += 1
        url = request.url
        if not url.startswith(("data:", "blob:")) and not url.startswith(self.origins):
            self.foreign.append(url)


class Run:
    """One app in a browser context of its own, loaded (cold) and reloaded (warm) by `tti`."""

    def __init__(self, app: str, context, url: str, origins: tuple[str, ...]) -> None:
        self.app, self.url = app, url
        self.context = context
        self.requests = Requests(origins)
        context.on("request", self.requests)
        self.page = context.new_page()
        self.console: list[str] = []
        self.loaded = False
        self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))

    @classmethod
    def open(cls, browser, app: str, url: str, origins: tuple[str, ...], *init_scripts: str, **context_args) -> Run:
        """A Run in a new context of `browser` (service workers allowed) that runs TTI_SCRIPT and
        `init_scripts` in every page before the page's own scripts."""
        context = browser.new_context(service_workers="allow", **context_args)
        for script in (TTI_SCRIPT, *init_scripts):
            context.add_init_script(script)
        return cls(app, context, url, origins)

    def tti(self, reload: bool) -> tuple[float, int]:
        before = self.requests.count
        self.loaded = True
        if reload:
            self.page.reload(wait_until="commit")
        else:
            self.page.goto(self.url, wait_until="commit")
        done = self.page.locator("html[data-bench-tti], #boot-error:visible").first
        try:
            done.wait_for(state="attached", timeout=WAIT_MS)
        except Exception as error:
            console = "\n".join(self.console[-30:])
            raise RuntimeError(f"{self.app} never became interactive; console:\n{console}") from error
        error = self.page.locator("#boot-error")
        if error.count() and error.is_visible():
            raise RuntimeError(f"{self.app} failed to start: {error.inner_text()}")
        ms = float(self.page.locator("html").get_attribute("data-bench-tti"))
        # The app really is there: Playwright's text/role selectors pierce Bokeh's shadow roots.
        self.page.get_by_role("button", name=APP_BUTTON).wait_for(state="visible", timeout=WAIT_MS)
        self.page.get_by_text("Welcome to Hearth").first.wait_for(state="visible", timeout=WAIT_MS)
        return ms, self.requests.count - before

    def load(self, kind: str) -> tuple[float, int]:
        """A "cold" load, or a "warm" one: a reload once the page has settled and the machine rested a second."""
        if kind == "warm":
            self.settle()
            time.sleep(1.0)
        return self.tti(reload=kind == "warm")

    def settle(self) -> None:
        """Wait until the page is done with what it does after becoming interactive.

        For Hearth: its service worker has cached the site and controls the page (so a reload is warm),
        and the packages it installs in the background are in. Then nothing of this page competes with
        the next measurement for the CPU. The peer does nothing after it is interactive.
        """
        if self.app != "hearth" or not self.loaded:
            return
        deadline = time.monotonic() + WAIT_MS / 1000
        probe = ("(navigator.serviceWorker.controller && navigator.serviceWorker.controller.state === 'activated')"
                 " && window.hearth.timings.later !== undefined")
        while time.monotonic() < deadline:
            if self.page.evaluate(probe):
                return
            time.sleep(0.2)
        raise RuntimeError("Hearth's service worker never took control of the page, or its packages never arrived")

    def milestones(self) -> str:
        if self.app != "hearth":
            return ""
        marks = self.page.evaluate("window.hearth.timings")
        return "  " + " ".join(f"{k}={v}" for k, v in marks.items())

    def click_check(self) -> str:
        """Click the button and wait until the app answers: proof that the widgets are linked to Python."""
        self.page.get_by_role("button", name=APP_BUTTON).click()
        answer = self.page.get_by_text("Clicked.").or_(self.page.get_by_text("ONNX Runtime on")).or_(
            self.page.get_by_text("Running a small ONNX model"))
        answer.first.wait_for(state="visible", timeout=WAIT_MS)
        return answer.first.inner_text()


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reuse-dist", action="store_true", help="use the dist/ that is there instead of building")
    parser.add_argument("--json", type=Path, help="also write the runs here (default bench/results/tti-<time>.json)")
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    dist = built_dist(args.reuse_dist)
    peer_site = peer.build(log=lambda m: print(m, flush=True))
    RESULTS.mkdir(exist_ok=True)

    runs: list[dict] = []
    with SiteServer(dist) as hearth_srv, peer_server(peer_site) as peer_srv, sync_playwright() as pw:
        origins = (hearth_srv.url, peer_srv.url)
        urls = {"hearth": hearth_srv.url, "peer": peer_srv.url + peer.PAGE}
        browser = launch_startup(pw)
        print(f"\nChromium {browser.version}; Hearth at {urls['hearth']}, peer at {urls['peer']}\n", flush=True)
        print(f"{'round':>5}  {'app':<6}  {'load':<4}  {'TTI ms':>8}  {'requests':>8}", flush=True)
        foreign: list[str] = []
        for round_ in range(1, args.rounds + 1):
            live = {app: Run.open(browser, app, urls[app], origins, viewport={"width": 1280, "height": 900})
                    for app in ("hearth", "peer")}
            for load in ("cold", "warm"):
                for app in ("hearth", "peer"):
                    run = live[app]
                    for other in live.values():
                        other.settle()  # nothing left running from the previous load
                    time.sleep(1.0)
                    ms, n = run.tti(reload=load == "warm")
                    runs.append({"round": round_, "app": app, "load": load, "ms": ms, "requests": n})
                    print(f"{round_:>5}  {app:<6}  {load:<4}  {ms:>8.0f}  {n:>8}{run.milestones()}", flush=True)
                    if round_ == 1:
                        run.page.screenshot(path=str(RESULTS / f"tti-{app}-{load}.png"))
            if round_ == 1:
                for app in ("hearth", "peer"):
                    print(f"       {app} answers a click: {live[app].click_check()!r}", flush=True)
            for run in live.values():
                foreign += run.requests.foreign
                run.context.close()
        browser.close()

    print()
    summary = {}
    for load in ("cold", "warm"):
        h = median([r["ms"] for r in runs if r["app"] == "hearth" and r["load"] == load])
        p = median([r["ms"] for r in runs if r["app"] == "peer" and r["load"] == load])
        ratio = h / p
        ok = ratio <= TARGETS[load]
        summary[load] = {"hearth_ms": h, "peer_ms": p, "ratio": ratio, "target": TARGETS[load], "pass": ok}
        print(f"{load:<4}  median  Hearth {h:>7.0f} ms   peer {p:>7.0f} ms   Hearth/peer {ratio:.2f}  "
              f"(target <= {TARGETS[load]:.1f}: {'PASS' if ok else 'FAIL'})")
    out = args.json or RESULTS / f"tti-{datetime.datetime.now():%Y%m%d-%H%M%S}.json"
    out.write_text(json.dumps({"runs": runs, "summary": summary, "foreign_requests": foreign}, indent=1))
    print(f"\nRuns written to {out}; screenshots of round 1 in {RESULTS}/")
    if foreign:
        print(f"\nFAILED: {len(foreign)} request(s) left 127.0.0.1 (refused by the browser):", file=sys.stderr)
        for url in sorted(set(foreign)):
            print(f"  {url}", file=sys.stderr)
        return 2
    print("No request left 127.0.0.1.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
