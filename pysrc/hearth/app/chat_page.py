"""The Chat page: talk to a language model running in this browser, and see how fast it runs.

The model is borrowed from the app's `LanguageModels` for each answer (`use("Chat", ...)`), so the
Notes page and this one never generate on one decoder at once. The answer streams into the
transcript as tokens arrive; Stop ends it between two tokens, or between two chunks of a long
conversation the model is still reading (the stats line counts the tokens read). After each answer the page shows
what the run really was: tokens/s, time to first token, and where it ran (WebAssembly threads or
WebGPU, as the session reports, not as asked).
"""

from __future__ import annotations

import asyncio
import time
from html import escape
from typing import Any

import panel as pn

from hearth.app.language_models import (
    BUILTIN_ID,
    BackendUnsupportedError,
    LanguageModels,
    ModelBusyError,
    ModelChoice,
    ModelNotOnDeviceError,
)
from hearth.app.state import AppState
from hearth.app.tasks import background
from hearth.app.widgets.html import heading, notice, wrap_row
from hearth.app.widgets.number_box import FloatBox, IntBox
from hearth.i18n import N_, number, t
from hearth.runtime import IN_BROWSER, get_runtime

# Words marked N_ here and translated where shown (t(BACKENDS[b])).
BACKENDS = {"wasm": N_("WebAssembly (CPU)"), "webgpu": N_("WebGPU (graphics card)"), "cpu": N_("CPU (onnxruntime)")}
SOURCES = {"built-in": N_("built in"), "downloaded": N_("downloaded"), "side-loaded": N_("side-loaded")}
REDRAW_SECONDS = 0.1  # the transcript is redrawn at most this often while an answer streams

TRANSCRIPT_CSS = """<style>
.hearth-chat{display:flex;flex-direction:column;gap:.4rem;max-width:52rem}
.hearth-msg{padding:.45rem .7rem;border-radius:.6rem;white-space:pre-wrap;line-height:1.4;max-width:90%}
.hearth-msg .who{display:block;font-size:.75rem;font-weight:600;color:#666;margin-bottom:.1rem}
.hearth-user{align-self:flex-end;background:#f6e3d6}
.hearth-assistant{align-self:flex-start;background:#fff;border:1px solid #e6ddd3}
.hearth-system{align-self:center;background:transparent;color:#666;font-size:.85rem}
.hearth-stopped{color:#7a4b00;font-size:.8rem}
</style>"""


def size_text(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB"


def suits(choice: ModelChoice, backend: str) -> bool:
    """Whether the model's export is made for `backend` (CPython's CPU runs what WebAssembly runs)."""
    return backend in choice.backends or (backend == "cpu" and "wasm" in choice.backends)


def backend_text(backend: str) -> str:
    return t(BACKENDS[backend]) if backend in BACKENDS else backend


def source_text(source: str) -> str:
    return t(SOURCES[source]) if source in SOURCES else source


def choice_text(choice: ModelChoice) -> str:
    suits = t(" or ").join(BACKENDS[b].split(" ")[0] for b in choice.backends if b in BACKENDS)
    size = f"{size_text(choice.size_bytes)}, " if choice.size_bytes else ""
    return size + t("{source}; suits {backends}", source=source_text(choice.source), backends=suits)


class ChatPage:
    def __init__(self, models: LanguageModels, state: AppState) -> None:
        self.models, self.state = models, state
        self.model = pn.widgets.Select(label=t("Model"), options={}, width=330)
        self.backend = pn.widgets.Select(label=t("Runs on"), options={backend_text("wasm"): "wasm"}, value="wasm",
                                         width=220)
        self.system = pn.widgets.TextAreaInput(
            label=t("System prompt (optional)"), rows=2, max_length=4000, sizing_mode="stretch_width",
            placeholder=t("How the assistant should behave, e.g. 'Answer in one short paragraph.'"))
        self.temperature = FloatBox(label=t("Temperature (0: always the likeliest word)"), value=0.7, start=0.0,
                                    end=2.0, width=300)
        self.max_tokens = IntBox(label=t("Longest answer (tokens)"), value=256, start=1, end=4096, width=210)
        self.prompt = pn.widgets.TextAreaInput(label=t("Your message"), rows=3, max_length=20000,
                                               sizing_mode="stretch_width",
                                               placeholder=t("Ask something. Nothing you type leaves this device."))
        self.send_button = pn.widgets.Button(label=t("Send"), color="primary", width=110)
        self.stop_button = pn.widgets.Button(label=t("Stop"), color="danger", variant="outline", width=100,
                                             disabled=True)
        self.clear_button = pn.widgets.Button(label=t("Clear chat"), width=140)
        self.send_button.on_click(lambda _e: background(self.send()))
        self.stop_button.on_click(lambda _e: self.stop())
        self.clear_button.on_click(lambda _e: self.clear())
        self.model_info = pn.pane.HTML("", sizing_mode="stretch_width")
        self.message = pn.pane.HTML("", sizing_mode="stretch_width")
        self.transcript = pn.pane.HTML("", sizing_mode="stretch_width", min_height=60)
        self.stats = pn.pane.HTML('<p class="hearth-chat-stats" aria-live="polite"></p>', sizing_mode="stretch_width")

        self.history: list[dict[str, str]] = []  # finished turns, as the chat template takes them
        self.answer = ""  # the answer streaming now
        self.generating = False
        self.last: Any = None  # the last answer's Completion
        self.runs_on = ""  # where the last answer really ran
        self.prompt_read = (0, 0)  # (tokens read, tokens) of the conversation the model is reading
        self._stop: asyncio.Event | None = None
        self._stopped: set[int] = set()  # answers the user stopped, by place in the history
        self._drawn_at = 0.0

        self.view = pn.Column(
            pn.pane.HTML(heading(t("Chat"), 2) + "<p>" + t("Talk with a language model that runs <strong>in this "
                         "browser</strong>: your messages never leave this device. The built-in model is small and "
                         "quick; get a larger one on the <strong>Models</strong> tab.") + "</p>"),
            wrap_row(self.model, self.backend), self.model_info,
            self.system, wrap_row(self.temperature, self.max_tokens),
            self.transcript, self.prompt, wrap_row(self.send_button, self.stop_button, self.clear_button),
            self.message, self.stats, sizing_mode="stretch_width")
        self.model.param.watch(lambda _e: (self._suggest_backend(), self._show_model()), "value")
        self.backend.param.watch(lambda _e: self._show_model(), "value")
        models.param.watch(lambda _e: self._show_choices(), "choices")
        models.param.watch(lambda *_e: self._show_model(), ["loaded_id", "provider"])
        # The built-in model's first use downloads it: its size and progress go on the stats line.
        models.param.watch(lambda e: e.new and self.generating and setattr(self.stats, "object", self._stats_html(e.new)),
                           "fetching")
        state.param.watch(lambda _e: self._show_backends(), "providers")
        self._show_choices()
        self._show_backends()
        self._draw()

    # ---------------------------------------------------------------- model and backend
    def _show_choices(self) -> None:
        current = self.model.value
        offered = [c for c in self.models.choices if c.purpose != "notes"]
        self.model.options = {c.label: c.id for c in offered}
        ids = [c.id for c in offered]
        self.model.value = current if current in ids else (ids[0] if ids else None)
        self._show_model()

    def _show_backends(self) -> None:
        self.backend.options = {backend_text(p): p for p in self.state.providers if p in BACKENDS}
        self._suggest_backend()

    def _suggest_backend(self) -> None:
        """The model's best backend among those this browser has (a q4f16 export wants WebGPU)."""
        choice = self.models.choice(self.model.value) if self.model.value else None
        have = list(self.backend.options.values())
        if choice is not None:
            best = next((b for b in have if suits(choice, b)), None)
            if best and not suits(choice, self.backend.value):
                self.backend.value = best
        if self.backend.value not in have and have:
            self.backend.value = have[0]

    def _show_model(self) -> None:
        choice = self.models.choice(self.model.value) if self.model.value else None
        if choice is None:
            self.model_info.object = ""
            return
        loaded = self.models.loaded_id == choice.id and self.models.provider == self.backend.value
        where = " " + (t("Loaded; runs on {where}.", where=self.runs_on) if loaded and self.runs_on else (
            t("Loaded.") if loaded else t("Loads when you send the first message.")))
        warn = ""
        if not suits(choice, self.backend.value):
            warn = " " + t("This export is made for {backends}; on {backend} it may be slow or fail.",
                           backends=t(" or ").join(backend_text(b) for b in choice.backends),
                           backend=backend_text(self.backend.value))
        self.model_info.object = (f'<p class="hearth-model-info">{escape(choice.label)}: {escape(choice_text(choice))}.'
                                  f"{escape(where)}{escape(warn)}</p>")

    async def _where(self, model: Any) -> str:
        """Where the session really runs: its provider, and WebAssembly's thread count."""
        provider = getattr(model.decoder.session, "provider", self.backend.value)
        if provider == "wasm" and IN_BROWSER:
            threads = await get_runtime().threads()
            return "WebAssembly, " + (t("1 thread") if threads == 1 else t("{count} threads", count=threads))
        if provider == "webgpu":
            return "WebGPU"
        return backend_text(provider)

    # ---------------------------------------------------------------- chatting
    def messages(self) -> list[dict[str, str]]:
        system = self.system.value.strip()
        return ([{"role": "system", "content": system}] if system else []) + list(self.history)

    async def send(self) -> None:
        """Send the message box's text and stream the answer into the transcript."""
        from hearth.llm.model.generate import GenerationSettings

        text = (self.prompt.value_input or self.prompt.value or "").strip()
        if self.generating:
            self.message.object = notice(t("An answer is still coming; wait for it or press Stop."), "warning")
            return
        if not text:
            self.message.object = notice(t("Type a message first."), "warning")
            return
        if not self.model.value:
            self.message.object = notice(t("No model to chat with; get one on the Models tab."), "error")
            return
        temperature, max_tokens = self.temperature.value, self.max_tokens.value
        if temperature is None or not 0 <= temperature <= 2 or not max_tokens or max_tokens < 1:
            self.message.object = notice(t("Temperature must be between 0 and 2 and the longest answer at least 1 "
                                           "token; fix the settings and send again."), "error")
            return
        model_id, provider = self.model.value, self.backend.value
        self.history.append({"role": "user", "content": text})
        self.prompt.param.update(value="", value_input="")
        self.answer, self.last = "", None
        self._stop = asyncio.Event()
        self._busy(True)
        self.message.object = ""
        self._draw()
        finished = False
        try:
            loading = self.models.loaded_id != model_id or self.models.provider != provider
            if loading:
                self.stats.object = self._stats_html(t("Loading {model}… (a large model takes a while the first time)",
                                                       model=self.models.choice(model_id).label))
            async with self.models.use("Chat", model_id, provider) as model:
                self.runs_on = await self._where(model)
                self._show_model()
                self._reading(0, 0)
                settings = GenerationSettings(max_new_tokens=int(max_tokens), temperature=float(temperature))
                async for piece in model.stream(self.messages(), settings, cancel=self._stop, on_prompt=self._reading):
                    self.answer += piece
                    if time.perf_counter() - self._drawn_at >= REDRAW_SECONDS:
                        self._draw()
                self.last = model.last
            finished = True
        except Exception as error:  # every failure is explained on the page; the chat stays as it was
            self._failed(text, error)
        finally:
            self._busy(False)
        if finished:
            self._finish()

    def _reading(self, read: int, total: int) -> None:
        """The stats line while the model reads the conversation (a long one is read in chunks)."""
        self.prompt_read = (read, total)
        self.stats.object = self._stats_html(
            t("Reading your message… {read} of {total} tokens (runs on {where})", read=number(read), total=number(total),
              where=self.runs_on) if total else t("Reading your message… (runs on {where})", where=self.runs_on))

    def _finish(self) -> None:
        done = self.last
        stopped = done.finish_reason == "cancelled"
        self.history.append({"role": "assistant", "content": self.answer})
        if stopped:
            self._stopped.add(len(self.history) - 1)
        self.answer = ""
        self._draw()
        if stopped and not done.token_ids:
            read, total = self.prompt_read  # (0, 0): stopped before its first chunk was read
            count = " " + t("({read} of {total} tokens read)", read=number(read), total=number(total)) if total else ""
            self.stats.object = self._stats_html(t("Stopped while reading your message") + f"{count} · {self.runs_on}")
            return
        ending = {"stop": "", "cancelled": " · " + t("stopped"),
                  "length": " · " + t("reached the longest answer")}[done.finish_reason]
        self.stats.object = self._stats_html(
            t("{tokens} tokens · {rate} tokens/s · first token after {first} s · prompt {prompt} tokens · {where}",
              tokens=len(done.token_ids), rate=f"{done.tokens_per_second:.1f}",
              first=f"{done.time_to_first_token:.2f}", prompt=done.prompt_tokens, where=self.runs_on) + ending)

    def _failed(self, text: str, error: Exception) -> None:
        from hearth.llm.model.generate import ContextLengthError, ModelFilesError
        from hearth.llm.text.chat import ChatTemplateError

        self.history.pop()  # the message goes back into the box: nothing typed is lost
        self.prompt.param.update(value=text, value_input=text)
        self.answer = ""
        self._draw()
        self.stats.object = self._stats_html("")
        if isinstance(error, ContextLengthError):
            why = f"{error} " + t("Or press Clear chat to start a new conversation.")
        elif isinstance(error, ModelBusyError | BackendUnsupportedError | ChatTemplateError | ModelFilesError
                        | ModelNotOnDeviceError):
            why = str(error)
        else:
            why = t("The model could not answer: {error}. Try again, pick another backend (WebAssembly always works), "
                    "or another model.", error=error)
        self.message.object = notice(why, "error")

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()

    def clear(self) -> None:
        if self.generating:
            self.stop()
        self.history, self.answer, self._stopped = [], "", set()
        self.message.object = ""
        self.stats.object = self._stats_html("")
        self._draw()

    def _busy(self, busy: bool) -> None:
        self.generating = busy
        self.send_button.disabled = busy
        self.stop_button.disabled = not busy
        self.model.disabled = self.backend.disabled = busy

    # ---------------------------------------------------------------- drawing
    @staticmethod
    def _stats_html(text: str) -> str:
        return f'<p class="hearth-chat-stats" aria-live="polite">{escape(text)}</p>'

    def _draw(self) -> None:
        self._drawn_at = time.perf_counter()
        turns = [(m["role"], m["content"]) for m in self.history]
        if self.generating:
            turns.append(("assistant", self.answer or "…"))
        if not turns:
            self.transcript.object = (TRANSCRIPT_CSS + '<div class="hearth-chat" role="log"><div class="hearth-msg '
                                      f'hearth-system">{t("No messages yet.")}</div></div>')
            return
        names = {"user": t("You"), "assistant": t("Assistant")}
        rows = []
        for i, (role, content) in enumerate(turns):
            mark = f'<span class="hearth-stopped"> ({t("stopped")})</span>' if i in self._stopped else ""
            rows.append(f'<div class="hearth-msg hearth-{role}"><span class="who">{names[role]}</span>'
                        f"{escape(content)}{mark}</div>")
        self.transcript.object = TRANSCRIPT_CSS + '<div class="hearth-chat" role="log">' + "".join(rows) + "</div>"

    async def use(self, model_id: str = BUILTIN_ID) -> None:
        """Pick a model by id (tests, and the Models page's 'Chat with it')."""
        self.model.value = model_id
