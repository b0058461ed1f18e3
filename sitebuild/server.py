"""A static file server for dist/, with the headers a real deployment should send.

COOP/COEP make the page cross-origin isolated (wasm threads); the CSP matches the page's own.
Range requests are honoured, as on any static host, so resumable downloads can be tested.
The service worker adds the same headers itself for hosts that cannot set them
(`headers=False` imitates such a host).
"""

from __future__ import annotations

import functools
import os
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sitebuild.site import CSP, WORKER_CSP, WORKER_SCRIPT

TYPES = {".mjs": "text/javascript", ".js": "text/javascript", ".wasm": "application/wasm",
         ".webmanifest": "application/manifest+json", ".whl": "application/octet-stream",
         ".onnx": "application/octet-stream", ".json": "application/json"}


class Handler(SimpleHTTPRequestHandler):
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, **TYPES}
    send_security_headers = True

    def end_headers(self) -> None:
        if self.send_security_headers:
            self.send_header("Cross-Origin-Opener-Policy", "same-origin")
            self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
            self.send_header("Cross-Origin-Resource-Policy", "same-origin")
            worker = self.path.split("?")[0].endswith("/" + WORKER_SCRIPT)
            self.send_header("Content-Security-Policy", WORKER_CSP if worker else CSP)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Accept-Ranges", "bytes")
        super().end_headers()

    def send_head(self):
        range_header = self.headers.get("Range")
        path = Path(self.translate_path(self.path))
        if not range_header or not path.is_file():
            return super().send_head()
        size = path.stat().st_size
        try:
            start_s, end_s = range_header.removeprefix("bytes=").split("-", 1)
            start = int(start_s) if start_s else size - int(end_s)
            end = int(end_s) if start_s and end_s else size - 1
        except ValueError:
            self.send_error(400, "bad Range header")
            return None
        if start >= size or start > end:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.end_headers()
            return None
        end = min(end, size - 1)
        f = open(path, "rb")
        f.seek(start)
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        self._range_left = end - start + 1
        return f

    def copyfile(self, source, outputfile) -> None:
        left = getattr(self, "_range_left", None)
        if left is None:
            return super().copyfile(source, outputfile)
        while left > 0:
            chunk = source.read(min(1 << 16, left))
            if not chunk:
                break
            outputfile.write(chunk)
            left -= len(chunk)
        self._range_left = None

    def log_message(self, format: str, *args) -> None:
        if os.environ.get("HEARTH_SERVER_LOG"):
            super().log_message(format, *args)


class SiteServer:
    """Serve a folder on 127.0.0.1 in a background thread: `with SiteServer(dist) as s: s.url`."""

    def __init__(self, root: Path, port: int = 0, headers: bool = True, handler: type[Handler] = Handler) -> None:
        handler = type("SiteHandler", (handler,), {"send_security_headers": headers})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), functools.partial(handler, directory=str(root)))
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread: threading.Thread | None = None

    def start(self) -> SiteServer:
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> SiteServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
