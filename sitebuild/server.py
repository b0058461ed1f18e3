"""A static file server for dist/, with the headers a real deployment should send.

COOP/COEP make the page cross-origin isolated (wasm threads); the CSP matches the page's own.
Range requests are honoured, as on any static host, so resumable downloads can be tested.
Files the build precompressed (FILE.gz beside FILE, `sitebuild.site.precompress`) are sent gzip-encoded
to a request that accepts it, as static hosts do; a range is always served from the file itself.
The service worker adds the same headers itself for hosts that cannot set them
(`headers=False` imitates such a host). `SiteServer.bytes_sent` counts every byte written to clients
(status lines, headers, bodies): what a visit costs on the wire.
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


class _CountingWriter:
    """A handler's output stream that adds what passes through it to its server's byte count."""

    def __init__(self, raw, server) -> None:
        self.raw, self.server = raw, server

    def write(self, data) -> int:
        n = self.raw.write(data)
        with self.server.count_lock:
            self.server.bytes_sent += len(data)
        return n

    def __getattr__(self, name: str):
        return getattr(self.raw, name)


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header allows gzip (not refused with q=0)."""
    for item in accept_encoding.split(","):
        name, _, params = item.strip().partition(";")
        if name.strip().lower() in ("gzip", "*"):
            q = params.strip().removeprefix("q=")
            try:
                return not params or float(q) > 0
            except ValueError:
                return True
    return False


class Handler(SimpleHTTPRequestHandler):
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, **TYPES}
    send_security_headers = True
    _gzip_of: str | None = None  # the file whose .gz this response sends

    def setup(self) -> None:
        super().setup()
        if hasattr(self.server, "bytes_sent"):
            self.wfile = _CountingWriter(self.wfile, self.server)

    def guess_type(self, path) -> str:
        return super().guess_type(self._gzip_of if self._gzip_of else path)

    def end_headers(self) -> None:
        if self.send_security_headers:
            self.send_header("Cross-Origin-Opener-Policy", "same-origin")
            self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
            self.send_header("Cross-Origin-Resource-Policy", "same-origin")
            worker = (self._gzip_of or self.path.split("?")[0]).endswith("/" + WORKER_SCRIPT)
            self.send_header("Content-Security-Policy", WORKER_CSP if worker else CSP)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Accept-Ranges", "bytes")
        if self._gzip_of is not None:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Vary", "Accept-Encoding")
        super().end_headers()

    def send_head(self):
        range_header = self.headers.get("Range")
        path = Path(self.translate_path(self.path))
        self._gzip_of = None
        url_path, _, query = self.path.partition("?")
        if path.is_dir() and url_path.endswith("/") and (path / "index.html").is_file():
            path, url_path = path / "index.html", url_path + "index.html"
        if not range_header and path.is_file() and accepts_gzip(self.headers.get("Accept-Encoding", "")):
            gz = path.with_name(path.name + ".gz")
            if gz.is_file():
                self._gzip_of = str(path)
                original, self.path = self.path, url_path + ".gz" + ("?" + query if query else "")
                try:
                    return super().send_head()
                finally:
                    self.path = original
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
        self.httpd.bytes_sent = 0
        self.httpd.count_lock = threading.Lock()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread: threading.Thread | None = None

    @property
    def bytes_sent(self) -> int:
        """Every byte written to clients since the server started (or since `reset_count`)."""
        return self.httpd.bytes_sent

    def reset_count(self) -> None:
        with self.httpd.count_lock:
            self.httpd.bytes_sent = 0

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
