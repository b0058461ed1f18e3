"""Packages installed after the app is drawn, so that start-up only unpacks what it imports.

The web worker installs Pandas, Pillow and the like in the background once the first page is up.
Code that imports one of them sooner does not fail: the import waits for that background install
(Pyodide's run_sync, which needs JS promise integration; Chromium has it). Where waiting is not
possible, the import fails with a message that says what to do.
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys


class DeferredPackageNotReady(ModuleNotFoundError):
    """A package that is installed in the background was imported before it arrived, where Python cannot wait."""


class DeferredPackages(importlib.abc.MetaPathFinder):
    """Import hook for the deferred packages' top-level modules: the first import installs them all."""

    def __init__(self, imports: dict[str, str]) -> None:
        self.imports = dict(imports)  # top-level module -> package that provides it

    def find_spec(self, fullname: str, path=None, target=None):
        top = fullname.partition(".")[0]
        if top not in self.imports:
            return None
        from pyodide.ffi import can_run_sync, run_sync

        import js

        if getattr(js, "hearthLaterDone", False):
            self.done()
            return None
        if not can_run_sync():
            raise DeferredPackageNotReady(
                f"{top} (package {self.imports[top]}) is still being installed in the background. "
                "Import it inside an async function (or a moment later) and it will be there."
            )
        run_sync(js.hearthLoadLater())
        self.done()
        return None  # installed now: the usual finders take it from here

    def done(self) -> None:
        self.imports.clear()
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        importlib.invalidate_caches()


def wait_on_import(imports: dict[str, str]) -> DeferredPackages:
    """Install the hook; `imports` maps each deferred top-level module to its package."""
    hook = DeferredPackages(imports)
    sys.meta_path.insert(0, hook)
    return hook
