"""LaTeX typeset as HTML by KaTeX in the Python worker, so the page needs only KaTeX's CSS and fonts.

KaTeX (pinned in sitebuild/sources.toml, served from the site at vendor/katex/) runs beside Python:
its renderToString needs no DOM, so a pane gets finished markup and the page runs no script of
Hearth's for it. It loads on first use, not at start-up: a dynamic import of its UMD build, which
sets `self.katex` (the worker's CSP allows that import, from the site's own origin only).

Panel draws each pane in a shadow root, so a pane that shows KaTeX's markup carries `KATEX_CSS` as a
stylesheet; the fonts KaTeX's CSS declares are loaded through the page's copy of the same file
(web/index.html), since Chromium ignores @font-face inside a shadow root.

On CPython (tests, the command line) there is no KaTeX: `render` gives the LaTeX source in a <code>
element, in the same place in the markup.
"""

from __future__ import annotations

from html import escape
from typing import Any

from hearth.runtime import IN_BROWSER

KATEX_JS = "vendor/katex/dist/katex.min.js"
KATEX_CSS = "vendor/katex/dist/katex.min.css"

_katex: Any = None


async def load() -> bool:
    """Make KaTeX ready (once); False where there is none (CPython)."""
    global _katex
    if _katex is None and IN_BROWSER:
        import js
        from pyodide.code import run_js

        await run_js(f"import(new URL({KATEX_JS!r}, self.location.href).href)")
        _katex = js.katex
    return _katex is not None


def render(tex: str, display: bool = False) -> str:
    """HTML for `tex`: KaTeX's markup once `load()` has succeeded, else the source in <code>.

    A formula KaTeX cannot parse is drawn as its source in red (class katex-error) with the reason in
    its title, never an exception: one bad formula must not blank the others.
    """
    if _katex is None:
        return f'<code class="hearth-tex">{escape(tex)}</code>'
    from js import Object
    from pyodide.ffi import to_js

    options = to_js({"displayMode": display, "throwOnError": False}, dict_converter=Object.fromEntries)
    return str(_katex.renderToString(tex, options))
