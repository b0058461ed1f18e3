"""Fixtures for the UI's page logic on CPython: Panel runs here too, so pages are built and driven
through their widgets and actions without a browser (onnxruntime stands in for onnxruntime-web)."""

from __future__ import annotations

import asyncio

import pytest

from hearth.app.shell import HearthApp, build_app
from hearth.app.tasks import settle


def run(coro):
    """Run a coroutine and whatever background work it started (predictions, evaluations)."""

    async def go():
        result = await coro
        await settle()
        return result

    return asyncio.run(go())


@pytest.fixture
def app() -> HearthApp:
    """A fresh app as a visitor finds it: digits loaded, an MLP built."""
    return run(build_app())


@pytest.fixture(scope="module")
def trained() -> HearthApp:
    """An app with a small CNN trained 2 epochs on digits (shared by a module's read-only tests)."""
    app = run(build_app())
    app.build.use_preset("small_cnn")
    app.train.epochs.value = 2
    run(app.train.start())
    return app
