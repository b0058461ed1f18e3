"""The app's frame: one shared state, one tab per step of building a network, the Home tab, and
the language model tabs (Notes, Chat, Models) that share one loaded model.

    Home · Data · Build · Train · Evaluate · Predict · Export · Python · Notes · Chat · Models

Pages talk only through `AppState`, never to each other's widgets, so each can be built and
tested alone (tests/app) and a bad input on one never disturbs another.
"""

from __future__ import annotations

import panel as pn

from hearth.app import engine_check
from hearth.app.build_page import BuildPage
from hearth.app.chat_page import ChatPage
from hearth.app.data_page import DataPage
from hearth.app.evaluate_page import EvaluatePage
from hearth.app.export_page import ExportPage
from hearth.app.language_models import LanguageModels
from hearth.app.models_page import ModelsPage
from hearth.app.notes_page import NotesPage
from hearth.app.predict_page import PredictPage
from hearth.app.python_page import PythonPage
from hearth.app.state import AppState
from hearth.app.tasks import background
from hearth.app.train_page import TrainPage
from hearth.app.widgets.phone import use_phone_layout
from hearth.i18n import t
from hearth.runtime import IN_BROWSER, get_runtime

TAB_CSS = """
:host .bk-headers-wrapper { flex-wrap: wrap; overflow: visible; }
:host .bk-tab { padding: 6px 12px; font-size: 0.95rem; }
:host .bk-tab:focus-visible { outline: 2px solid #b4532a; outline-offset: -2px; }
"""


class HearthApp:
    """Everything a visitor sees; `state` holds what they made."""

    def __init__(self) -> None:
        self.state = AppState()
        self.data = DataPage(self.state)
        self.build = BuildPage(self.state)
        self.train = TrainPage(self.state)
        self.evaluate = EvaluatePage(self.state)
        self.predict = PredictPage(self.state)
        self.export = ExportPage(self.state)
        self.python = PythonPage(self.state)
        self.models = LanguageModels()  # the one loaded language model, lent to the Notes and Chat pages
        self.notes = NotesPage(self.models)
        self.chat = ChatPage(self.models, self.state)
        self.models_page = ModelsPage(self.models, self.state)
        welcome = pn.pane.HTML(t(
            "<h2>Welcome to Hearth</h2>"
            "<p>Train neural networks and draft clinical notes with a language model, <strong>entirely in this "
            "browser</strong>. Nothing you load or type leaves this device, and after this first visit Hearth "
            "works offline.</p><p><strong>Build a network without code</strong>, one tab at a time: "
            "<strong>Data</strong> (what it learns from) → <strong>Build</strong> (its layers) → "
            "<strong>Train</strong> → <strong>Evaluate</strong> → <strong>Predict</strong> → "
            "<strong>Export</strong>, and <strong>Python</strong> shows it all as code.</p>"
            "<p><strong>Notes</strong> drafts a clinical note (SOAP or ACI-Bench sections) from a visit "
            "transcript with a language model running in this tab; the transcript and the note never leave it. "
            "<strong>Chat</strong> with a language model running on this device; get more models on the "
            "<strong>Models</strong> tab.</p>"),
            sizing_mode="stretch_width")
        self.view = pn.Tabs(
            (t("Home"), pn.Column(welcome, engine_check.panel(), sizing_mode="stretch_width")),
            (t("Data"), self.data.view), (t("Build"), self.build.view), (t("Train"), self.train.view),
            (t("Evaluate"), self.evaluate.view), (t("Predict"), self.predict.view), (t("Export"), self.export.view),
            (t("Python"), self.python.view), (t("Notes"), self.notes.view), (t("Chat"), self.chat.view),
            (t("Models"), self.models_page.view), dynamic=True, sizing_mode="stretch_width", stylesheets=[TAB_CSS])

    async def start(self) -> None:
        """Ready to train at once: the digits loaded and an MLP built; backends found in the background."""
        await self.data.use_builtin("digits")
        self.data.message.object = ""
        background(self._find_backends())
        background(self.models_page.refresh())
        if IN_BROWSER:  # on CPython the built-in model is the only one, and already listed
            background(self.notes.start())

    async def _find_backends(self) -> None:
        runtime = get_runtime()
        providers = await runtime.detect() if IN_BROWSER else list(runtime.providers)
        self.state.providers = list(providers)


APP: HearthApp | None = None  # the running app, for tests and the devtools console (hearth.python)


def create_app() -> HearthApp:
    global APP
    pn.extension(sizing_mode="stretch_width")
    use_phone_layout()  # before any component is made: Panel reads it when it makes each one
    APP = HearthApp()
    return APP


async def build_app() -> HearthApp:
    app = create_app()
    await app.start()
    return app
