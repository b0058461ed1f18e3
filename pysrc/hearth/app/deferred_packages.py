"""Packages installed after the app is drawn, so that start-up only unpacks what it imports.

The web worker installs Pandas, Pillow and the like in the background once the first page is up.
Until they are in, an import hook stands in for them:
- asking whether one is installed (`importlib.util.find_spec`, as Bokeh does for pandas at start)
  says yes at once, without waiting: it is, it is just not unpacked yet;
- importing one waits for the background install (Pyodide's run_sync, which needs JS promise
  integration; Chromium has it) and then imports it as usual. Where Python cannot wait, the import
  fails with a message that says what to do;
- code that needs a package's files rather than its import (the drug lexicon's data file, read
  without running the package) waits the same way through the stand-in spec's loader
  (`wait_until_installed`), or without blocking with `await wait_for_install()`.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys

# Modules whose import had to wait for the background install (for start-up profiling).
waited_for: list[str] = []


class DeferredPackageNotReady(ModuleNotFoundError):
    """A package that is installed in the background was imported before it arrived, where Python cannot wait."""


class DeferredPackages(importlib.abc.MetaPathFinder):
    """Finds the deferred packages' top-level modules while they are not installed yet."""

    def __init__(self, imports: dict[str, str]) -> None:
        self.imports = dict(imports)  # top-level module -> package that provides it

    def find_spec(self, fullname: str, path=None, target=None):
        if fullname not in self.imports:
            return None
        if self.arrived():
            return None  # installed now: the usual finders take it from here
        return importlib.machinery.ModuleSpec(fullname, _InstallThenLoad(self, fullname), is_package=True)

    def arrived(self) -> bool:
        import js

        if getattr(js, "hearthLaterDone", False):
            self.imports.clear()
            if self in sys.meta_path:
                sys.meta_path.remove(self)
            importlib.invalidate_caches()
            return True
        return False

    def install(self, fullname: str) -> None:
        """Wait until the background install is done (it starts now if it had not yet)."""
        import js
        from pyodide.ffi import can_run_sync, run_sync

        if self.arrived():
            return
        if not can_run_sync():
            raise DeferredPackageNotReady(
                f"{fullname} (package {self.imports[fullname]}) is still being installed in the background. "
                "Import it inside an async function (or a moment later) and it will be there."
            )
        waited_for.append(fullname)
        run_sync(js.hearthLoadLater())
        if not self.arrived():
            raise DeferredPackageNotReady(f"installing {self.imports.get(fullname, fullname)} failed: see the console")


class _InstallThenLoad(importlib.abc.Loader):
    """Stands in for the real loader: installs the package, then loads the module the usual way."""

    def __init__(self, finder: DeferredPackages, fullname: str) -> None:
        self.finder = finder
        self.fullname = fullname
        self.real: importlib.machinery.ModuleSpec | None = None

    def wait_until_installed(self) -> None:
        """Wait for the install as importing would, without importing; find_spec then gives the real spec."""
        self.finder.install(self.fullname)

    def create_module(self, spec):
        self.finder.install(spec.name)
        self.real = importlib.util.find_spec(spec.name)
        if self.real is None:
            raise ModuleNotFoundError(f"{spec.name} is not in the packages installed in the background")
        return importlib.util.module_from_spec(self.real)

    def exec_module(self, module) -> None:
        module.__spec__, module.__loader__ = self.real, self.real.loader
        self.real.loader.exec_module(module)


def wait_on_import(imports: dict[str, str]) -> DeferredPackages:
    """Install the hook; `imports` maps each deferred top-level module to its package."""
    hook = DeferredPackages(imports)
    sys.meta_path.insert(0, hook)
    return hook


async def wait_for_install() -> None:
    """Wait, without blocking the event loop, until the deferred packages are installed (at once where
    there are none: CPython, or the install is done). Starts the install if it had not started, so
    call it once the app is drawn: start-up would pay for it otherwise."""
    hook = next((finder for finder in sys.meta_path if isinstance(finder, DeferredPackages)), None)
    if hook is None or hook.arrived():
        return
    import js

    await js.hearthLoadLater()
    if not hook.arrived():
        raise DeferredPackageNotReady("installing the packages that arrive in the background failed: see the console")
