"""What the Chromium benchmarks share: the browser, a served copy of dist/, and keeping every request on 127.0.0.1.

The worker benches (llm_decode.py, llm_1b.py, train_throughput.py) open a page of bench/pages/ on a
`BenchSite`: a throwaway copy of dist/ with those pages and whatever the bench stages beside it
(peers, models, data), served by sitebuild.server. `BenchSite.open_context` starts a headless
Chromium whose requests for any other origin are refused and recorded in `BenchSite.foreign`.

The start-up benches (tti.py, profile_boot.py, ab.py) cannot use that: Playwright's request
interception switches Chromium's HTTP cache off, which would make every warm load a cold one. Their
`launch_startup` browser resolves no host but 127.0.0.1 instead, and they spot foreign requests by
watching them (tti.Requests).

Importing this module puts the repository and pysrc/ on sys.path, so the benches run as plain scripts.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
for _path in (REPO / "pysrc", REPO):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from sitebuild.server import Handler, SiteServer  # noqa: E402
from sitebuild.site import CSP  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu-sandbox", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-quic", "--no-first-run", "--disable-default-apps", "--disable-extensions",
]
# WebGL on the SwiftShader software rasterizer, for machines without a GPU.
SWIFTSHADER_ARGS = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
# Only the loopback address resolves; every other host fails in the browser's own resolver.
LOOPBACK_ONLY_ARGS = ["--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]
RESULTS = BENCH / "results"

# The site's policy, except that scripts may come from blob: and eval (wllama starts its worker from a
# blob, TF.js's threaded wasm its pthread workers, and tf.min.js's globalThis polyfill evals), and
# connections go nowhere but this origin.
BENCH_CSP = "; ".join("script-src 'self' blob: 'unsafe-eval' 'wasm-unsafe-eval'" if d.startswith("script-src") else
                      "connect-src 'self'" if d.startswith("connect-src") else d for d in CSP.split("; "))


class BenchHandler(Handler):
    """dist/'s headers (COOP/COEP for threads), with BENCH_CSP on the bench's own pages."""

    def end_headers(self) -> None:
        if self.path.split("?")[0].startswith("/bench/"):
            self.send_security_headers = False
            self.send_header("Cross-Origin-Opener-Policy", "same-origin")
            self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
            self.send_header("Cross-Origin-Resource-Policy", "same-origin")
            self.send_header("Content-Security-Policy", BENCH_CSP)
        super().end_headers()


def link_or_copy(src: Path, dst: Path) -> None:
    """`dst` as a hard link to `src` (a copy across file systems), its folders made as needed."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def link_tree(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst, dirs_exist_ok=True, copy_function=lambda s, d: link_or_copy(Path(s), Path(d)))


def built_dist(reuse: bool = False, needs: str = "index.html") -> Path:
    """dist/, built first unless `reuse` and dist/`needs` is there."""
    dist = REPO / "dist"
    if not (reuse and (dist / needs).exists()):
        from sitebuild.site import build

        build(log=lambda m: print(f"Hearth: {m}", flush=True))
    return dist


def write_results(name: str, data: dict) -> Path:
    """`data` as JSON in bench/results/`name`."""
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / name
    out.write_text(json.dumps(data, indent=1))
    return out


class BenchSite:
    """dist/ and bench/pages/ in a throwaway folder (`root`; stage more there), served at `url` while in `with`.

    `open_context` gives Chromium contexts that refuse every request for another origin, and record its
    URL in `foreign`: a bench fails when that list is not empty.
    """

    def __init__(self, dist: Path, prefix: str = "hearth-bench-") -> None:
        self.dist, self.prefix = dist, prefix
        self.foreign: list[str] = []

    def __enter__(self) -> BenchSite:
        self._tmp = tempfile.TemporaryDirectory(prefix=self.prefix)
        self.root = Path(self._tmp.name)
        link_tree(self.dist, self.root)
        link_tree(BENCH / "pages", self.root / "bench")
        self.server = SiteServer(self.root, handler=BenchHandler).start()
        self.url = self.server.url
        self.origin = self.url.rstrip("/")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()
        self._tmp.cleanup()

    def _refuse_foreign(self, route) -> None:
        parts = urlsplit(route.request.url)
        if parts.scheme in ("data", "blob") or f"{parts.scheme}://{parts.netloc}" == self.origin:
            route.continue_()
        else:
            self.foreign.append(route.request.url)
            route.abort()

    def open_context(self, pw, extra_args: list[str] | tuple = (), profile: Path | None = None) -> tuple:
        """(context, tag): a fresh headless Chromium's context, and the flag that tags its command line
        (renderer_memory finds its processes by it among other Chromiums). With `profile`, a persistent
        context: storage, service worker and code cache outlive it. `close(context)` ends it."""
        tag = f"--hearth-bench-tag={os.getpid()}-{time.time_ns()}"
        args = [*CHROMIUM_ARGS, *extra_args, tag]
        if profile is None:
            context = pw.chromium.launch(executable_path=CHROMIUM, args=args, headless=True).new_context()
        else:
            context = pw.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True, args=args)
        context.route("**/*", self._refuse_foreign)
        return context, tag

    def open_page(self, context, path: str, timeout_ms: int, verbose: bool = False):
        """A new page on `path` (say "bench/llm.html"), once its `window.bench` is there; the page's
        errors and warnings (with `verbose`: its whole console and every request) go to stderr."""
        page = context.new_page()
        page.on("console", lambda m: (verbose or m.type in ("error", "warning"))
                and print(f"  [page {m.type}] {m.text[:300]}", file=sys.stderr))
        if verbose:
            page.on("request", lambda r: print(f"  [request] {r.url}", file=sys.stderr))
        page.set_default_timeout(timeout_ms)
        page.goto(self.url + path)
        page.wait_for_function("() => window.bench !== undefined")
        return page


def foreign_line(urls: list[str]) -> str:
    """The report's line on requests that would have left 127.0.0.1 (a bench fails when there is one)."""
    return f"requests that left 127.0.0.1: {len(urls)} {urls[:5]}"


def close(context) -> None:
    """Close a context from BenchSite.open_context, and its browser unless it was a persistent one."""
    browser = context.browser
    context.close()
    if browser is not None:
        browser.close()


def launch_startup(pw):
    """Chromium for start-up timings: the tests' flags (tests/conftest.py), no host but 127.0.0.1."""
    from tests.conftest import CHROMIUM_ARGS as TEST_ARGS

    return pw.chromium.launch(executable_path=CHROMIUM, args=[*TEST_ARGS, *LOOPBACK_ONLY_ARGS], headless=True)


def _processes() -> dict[int, tuple[int, list[bytes]]]:
    """pid -> (parent pid, command line) of every process we can read."""
    out = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                parent = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
                out[int(proc.name)] = (parent, (proc / "cmdline").read_bytes().split(b"\0"))
            except (OSError, IndexError, ValueError):
                continue
    return out


def renderer_memory(tag: str) -> dict[str, dict[str, int]]:
    """Peak and current RSS (MB) of the renderer processes of our Chromium (found by `tag` on its command
    line; other Chromiums may run on the machine). The page and all its workers live in one renderer."""
    procs = _processes()
    ours = {pid for pid, (_, cmd) in procs.items() if tag.encode() in cmd}
    changed = True
    while changed:  # every descendant of our browser process
        grown = ours | {pid for pid, (parent, _) in procs.items() if parent in ours}
        changed, ours = grown != ours, grown
    out = {}
    for pid in ours:
        if b"--type=renderer" not in b" ".join(procs[pid][1]):
            continue
        try:
            status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                          if ":" in line)
            out[str(pid)] = {"peak_mb": int(status["VmHWM"].split()[0]) // 1024,
                             "rss_mb": int(status["VmRSS"].split()[0]) // 1024}
        except (OSError, KeyError, ValueError):
            continue
    return out
