"""Entry point the web worker calls: build the app into Panel's document and hand back its JSON."""

from __future__ import annotations


async def render() -> tuple[str, str, str]:
    from panel.io.pyodide import init_doc, write_doc

    init_doc()
    from hearth.app.shell import build_app

    app = await build_app()
    app.view.servable(title="Hearth")
    return await write_doc()
