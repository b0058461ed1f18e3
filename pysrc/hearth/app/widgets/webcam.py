"""The camera: a live preview, single shots on request, and frames at a steady rate for live prediction.

Panel's VideoStream does the page side (getUserMedia, a canvas snapshot, a JPEG data URL), so no
picture leaves the page except into this worker. A shot is a round trip: Python asks for a
snapshot, the page answers with the frame.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import panel as pn

from hearth.app.widgets.images import data_url_bytes
from hearth.i18n import t
from hearth.train.data import DataError

ANSWER_SECONDS = 10.0


class Webcam:
    def __init__(self, on_frame: Callable[[bytes], object] | None = None, width: int = 320, height: int = 240
                 ) -> None:
        self.on_frame = on_frame
        self.stream = pn.widgets.VideoStream(format="jpeg", width=width, height=height, sizing_mode="fixed",
                                             timeout=None, margin=(5, 10))
        self._waiting: list[asyncio.Future] = []
        self.stream.param.watch(self._arrived, "value")

    @property
    def view(self) -> pn.widgets.VideoStream:
        return self.stream

    async def shot(self) -> bytes:
        """The current frame as JPEG bytes (DataError if the camera gave no picture)."""
        loop = asyncio.get_event_loop()
        deadline = loop.time() + ANSWER_SECONDS
        while True:
            future = loop.create_future()
            self._waiting.append(future)
            self.stream.value = ""  # so the answer is a change even if the picture is the same
            self.stream.snapshot()
            try:
                # The page answers within a frame or two; none comes when the preview is not on the page.
                url = await asyncio.wait_for(future, max(0.1, deadline - loop.time()))
            except TimeoutError:
                raise DataError(t("the camera did not answer; open the webcam view, allow the camera, and try "
                                  "again")) from None
            picture = data_url_bytes(url)
            if picture:
                return picture
            # "data:,": the camera is on but has not drawn its first frame yet (just after it opens)
            if loop.time() >= deadline:
                raise DataError(t("the camera shows no picture yet; wait until the preview moves, then try again"))
            await asyncio.sleep(0.2)

    def live(self, every_ms: int | None) -> None:
        """Send a frame every `every_ms` milliseconds to `on_frame` (None: stop)."""
        self.stream.timeout = every_ms

    def _arrived(self, event) -> None:
        if not event.new:
            return
        waiting, self._waiting = self._waiting, []
        for future in waiting:
            if not future.done():
                future.set_result(event.new)
        if not waiting and self.on_frame is not None and self.stream.timeout:
            try:
                frame = data_url_bytes(event.new)
            except ValueError:
                return
            if frame:  # an empty frame: the camera has not drawn yet
                self.on_frame(frame)
