"""Starting async work from the synchronous callbacks widgets call (Bokeh and param watchers).

In the browser every model step is an awaited call into onnxruntime-web, so work a widget starts
(a prediction after a stroke, an evaluation after training) runs as a task on Pyodide's event loop
while the page stays live. `settle()` waits for whatever is still running (tests, and code that
must see the result before going on).
"""

from __future__ import annotations

import asyncio
import sys
import traceback
from collections.abc import Coroutine
from typing import Any

_tasks: set[asyncio.Task] = set()


def _report(task: asyncio.Task) -> None:
    _tasks.discard(task)
    if not task.cancelled() and task.exception() is not None:
        # Pages catch the errors they can explain; anything else goes to the console for a bug report.
        traceback.print_exception(task.exception(), file=sys.stderr)


def background(coro: Coroutine[Any, Any, Any]) -> asyncio.Task | None:
    """Run `coro` on the event loop without waiting for it; with no loop running (a plain CPython
    script or test), run it to the end now."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        if sys.platform == "emscripten":
            loop = asyncio.get_event_loop()  # Pyodide's WebLoop is always there
        else:
            asyncio.run(coro)
            return None
    task = loop.create_task(coro)
    _tasks.add(task)
    task.add_done_callback(_report)
    return task


async def settle() -> None:
    """Wait until every task started with `background` (and those they start) has finished."""
    while _tasks:
        await asyncio.gather(*list(_tasks), return_exceptions=True)
