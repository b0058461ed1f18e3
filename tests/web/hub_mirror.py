"""A local server laid out like the Hugging Face Hub, for the download tests: files under
`/hf/<owner>/<repo>/resolve/<revision>/<path>`, ETag = sha256 (as the Hub sends for large files),
HTTP Range, HEAD; `mode` breaks transfers on purpose (a dropped connection mid-file, a tampered byte)."""

from __future__ import annotations

import hashlib
import re
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sitebuild.server import Handler, SiteServer

PATH = re.compile(r"^/hf/([^/]+/[^/]+)/resolve/[^/]+/(.+)$")


class HubMirror(Handler):
    repos: dict[str, dict[str, bytes | Path]] = {}  # "owner/name" -> {path in the repo: bytes, or a file}
    mode = {"interrupt_once": False, "tamper": False}
    ranges: list[str] = []  # Range headers received, in order
    chunk = 1 << 18
    chunk_pause = 0.0  # seconds between chunks: a fast network, not an instant one, when progress is watched

    def _file(self) -> tuple[str, bytes] | None:
        match = PATH.match(self.path.split("?")[0])
        found = match and self.repos.get(match[1], {}).get(match[2])
        if found is None:
            return None
        return match[2], found.read_bytes() if isinstance(found, Path) else found

    def do_HEAD(self) -> None:  # noqa: N802 (http.server's naming)
        found = self._file()
        if found is None:
            return super().do_HEAD()
        self.send_response(200)
        self.send_header("Content-Length", str(len(found[1])))
        self.send_header("ETag", f'"{hashlib.sha256(found[1]).hexdigest()}"')
        self.end_headers()

    def do_GET(self) -> None:  # noqa: N802
        found = self._file()
        if found is None:
            return super().do_GET()
        name, data = found
        etag = hashlib.sha256(data).hexdigest()
        if self.mode["tamper"] and name.endswith(".onnx"):
            at = min(5000, len(data) // 2)
            data = data[:at] + bytes([data[at] ^ 1]) + data[at + 1:]
        start = 0
        if self.headers.get("Range"):
            self.ranges.append(self.headers["Range"])
            start = int(self.headers["Range"].removeprefix("bytes=").split("-")[0])
        body = data[start:]
        self.send_response(206 if start else 200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", f'"{etag}"')
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        interrupt = self.mode["interrupt_once"] and name.endswith(".onnx")
        if interrupt:
            self.mode["interrupt_once"] = False
        for offset in range(0, len(body), self.chunk):
            if interrupt and offset >= len(body) // 2:
                self.wfile.flush()
                time.sleep(1.0)  # let the first half reach the browser, as on a real network, before the drop
                self.connection.shutdown(socket.SHUT_RDWR)  # the network drops mid-file
                return
            self.wfile.write(body[offset:offset + self.chunk])
            if self.chunk_pause:
                time.sleep(self.chunk_pause)


@contextmanager
def hub_mirror(site: Path, repos: dict[str, dict[str, bytes | Path]], chunk_pause: float = 0.0) -> Iterator[SiteServer]:
    """The site and, beside it, `repos` served the Hub's way; the mirror's state starts clean."""
    HubMirror.repos = repos
    HubMirror.chunk_pause = chunk_pause
    HubMirror.mode.update(interrupt_once=False, tamper=False)
    HubMirror.ranges.clear()
    with SiteServer(site, handler=HubMirror) as server:
        yield server
