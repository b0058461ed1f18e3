"""The Train page: how to train, start/pause/resume/stop, progress with time left, and live curves.

Training runs in the worker as an async loop that hands the runtime a chunk of steps at a time, so
between chunks the page's clicks (pause, stop) get through and the curves get drawn. Widgets are
updated at most four times a second; more would only queue patches for the page.
"""

from __future__ import annotations

import time
from html import escape

import panel as pn

from hearth.app.augment_panel import AugmentPanel
from hearth.app.state import AppState
from hearth.app.tasks import background
from hearth.app.widgets.curves import Curves
from hearth.app.widgets.html import heading, notice, table, wrap_row
from hearth.app.widgets.number_box import FloatBox, IntBox
from hearth.i18n import N_, number, t
from hearth.runtime import get_runtime
from hearth.train.data import DataError
from hearth.train.layers import SpecError
from hearth.train.trainer import BatchProgress, Trainer, TrainingError

STEPS_PER_CALL = 8  # steps per runtime call: one call is one chance for the page to be heard
# Seconds between page updates while training. Every update costs the page's main thread a redraw,
# the plots most: redrawn every epoch, they took a large share of its time on a busy machine
# (README "Training speed").
UI_INTERVAL = 0.5  # progress bar and text
PLOT_INTERVAL = 1.0  # the curves
HISTORY_INTERVAL = 3.0  # the epochs table
HISTORY_ROWS = 10
# A time-left estimate is shown only once the pace it comes from is worth something: the first chunk
# of steps also builds the runtime's session, so the pace is taken from the first progress report on,
# and over at least one more chunk and a second of training (before that it can be off many times over).
ESTIMATE_AFTER_S = 1.0
ESTIMATE_AFTER_BATCHES = STEPS_PER_CALL
SAME_CHUNK_S = 0.02  # reports this close to the first one belong to its chunk (done in one runtime call)
# Labels (keys) are marked N_ here and translated where the menus are made.
BACKENDS = {"wasm": N_("WebAssembly (CPU)"), "webgpu": N_("WebGPU (graphics card)"), "cpu": N_("CPU (onnxruntime)")}
LOSSES = {N_("Categorical cross-entropy (classes)"): "categorical_crossentropy",
          N_("Binary cross-entropy (two classes, sigmoid)"): "binary_crossentropy",
          N_("Mean squared error (numbers)"): "mean_squared_error"}
OPTIMIZERS = {"Adam": "adam", "SGD": "sgd", "RMSprop": "rmsprop", "Adagrad": "adagrad"}  # names, the same in every language
VALIDATION_SHARES = {N_("none"): 0.0, "10%": 0.1, "15%": 0.15, "20%": 0.2, "25%": 0.25, "30%": 0.3, "40%": 0.4, "50%": 0.5}


def _translated(options: dict[str, object]) -> dict[str, object]:
    return {t(label): value for label, value in options.items()}


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{max(seconds, 0):.0f} s"
    return f"{seconds // 60:.0f} min {seconds % 60:02.0f} s"


class TimeLeft:
    """Seconds left in a run of `total` batches, from the pace since the first progress report;
    None until that pace means something (ESTIMATE_AFTER_S, ESTIMATE_AFTER_BATCHES)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self._start: tuple[float, int] | None = None  # (time, batches done) when the pace starts

    def __call__(self, done: int, now: float) -> float | None:
        if self._start is None or now - self._start[0] < SAME_CHUNK_S:
            # the first report, or one from the same chunk: its batches took no time of their own
            self._start = (now if self._start is None else self._start[0], done)
            return None
        started, done_then = self._start
        if now - started < ESTIMATE_AFTER_S or done - done_then < ESTIMATE_AFTER_BATCHES:
            return None
        return (now - started) / (done - done_then) * max(self.total - done, 0)


class TrainPage:
    def __init__(self, state: AppState) -> None:
        self.state = state
        config = state.config
        self.optimizer = pn.widgets.Select(label=t("Optimizer"), options=OPTIMIZERS, value=config.optimizer, width=160)
        self.loss = pn.widgets.Select(label=t("Loss"), options=_translated(LOSSES), value=config.loss, width=280)
        self.learning_rate = FloatBox(label=t("Learning rate"), value=config.learning_rate, start=1e-6, end=10.0,
                                      width=140)
        self.batch_size = pn.widgets.Select(label=t("Batch size"), value=config.batch_size, width=110,
                                            options=[8, 16, 32, 64, 128, 256])
        self.epochs = IntBox(label=t("Epochs"), value=config.epochs, start=1, end=1000, width=110)
        # A menu, not a slider: Bokeh's slider handle has no accessible name.
        self.validation_split = pn.widgets.Select(label=t("Validation share"), value=config.validation_split, width=170,
                                                  options=_translated(VALIDATION_SHARES))
        self.backend = pn.widgets.Select(label=t("Backend"), options={t(BACKENDS["wasm"]): "wasm"}, value="wasm",
                                         width=220)
        for field, widget in (("optimizer", self.optimizer), ("loss", self.loss),
                              ("learning_rate", self.learning_rate), ("batch_size", self.batch_size),
                              ("epochs", self.epochs), ("validation_split", self.validation_split)):
            widget.param.watch(lambda event, f=field: self.setting_changed(f, event.new), "value")
        self.backend.param.watch(lambda e: setattr(self.state, "provider", e.new), "value")

        self.start_button = pn.widgets.Button(label=t("Start training"), color="primary", width=150)
        self.more_button = pn.widgets.Button(label=t("Train more"), width=140)
        self.pause_button = pn.widgets.Button(label=t("Pause"), width=100)
        self.resume_button = pn.widgets.Button(label=t("Resume"), width=100)
        self.stop_button = pn.widgets.Button(label=t("Stop"), width=100, color="danger", variant="outline")
        self.start_button.on_click(lambda _e: background(self.start()))
        self.more_button.on_click(lambda _e: background(self.train_more()))
        self.pause_button.on_click(lambda _e: self.pause())
        self.resume_button.on_click(lambda _e: self.resume())
        self.stop_button.on_click(lambda _e: self.stop())

        self.message = pn.pane.HTML("", sizing_mode="stretch_width")
        # While the Build page's stack cannot train, this page says so in the Build page's words.
        self.network_note = pn.pane.HTML("", sizing_mode="stretch_width")
        self.progress = pn.indicators.Progress(label=t("Training progress"), value=0, max=1000, bar_color="primary",
                                               sizing_mode="stretch_width", margin=(5, 10))
        self.progress_text = pn.pane.HTML(f'<p aria-live="polite" class="hearth-progress">{t("Not started.")}</p>',
                                          sizing_mode="stretch_width")
        self.backend_info = pn.pane.HTML("", sizing_mode="stretch_width")
        self.curves = Curves()
        self.history = pn.pane.HTML("", sizing_mode="stretch_width")
        self.augment = AugmentPanel(state)
        self.running: Trainer | None = None
        self._paused = False
        self._stopping = False
        self._shown: Trainer | None = None
        self.view = pn.Column(
            pn.pane.HTML(heading(t("3. Train"), 2) + "<p>" + t("The network looks at the data batch by batch and adjusts "
                         "its weights to lower the loss. The validation share is kept aside to check it on data it "
                         "never trained on.") + "</p>"),
            wrap_row(self.optimizer, self.loss, self.learning_rate, self.batch_size, self.epochs,
                     self.validation_split, self.backend),
            wrap_row(self.start_button, self.pause_button, self.resume_button, self.stop_button, self.more_button),
            self.network_note, self.message, self.progress, self.progress_text, self.backend_info, self.curves.view,
            self.history, self.augment.view, sizing_mode="stretch_width")
        state.param.watch(lambda _e: self._show_backends(), "providers")
        state.param.watch(lambda _e: self._settings_from_state(), "config")
        state.param.watch(lambda _e: self._data_changed(), "dataset")
        state.param.watch(lambda _e: self._trainer_changed(), "trainer")
        state.param.watch(lambda _e: (self._show_network_problem(), self._buttons()), "spec_problem")
        self._show_backends()
        self._show_network_problem()
        self._buttons()

    # ---------------------------------------------------------------- settings
    def _show_backends(self) -> None:
        self.backend.options = {t(BACKENDS[p]) if p in BACKENDS else p: p for p in self.state.providers}
        if self.state.provider not in self.state.providers:
            self.state.provider = self.state.providers[0]
        self.backend.value = self.state.provider

    def _settings_from_state(self) -> None:
        """Show settings that came from elsewhere (a project file)."""
        config = self.state.config
        for widget, value in ((self.optimizer, config.optimizer), (self.loss, config.loss),
                              (self.learning_rate, config.learning_rate), (self.batch_size, config.batch_size),
                              (self.epochs, config.epochs), (self.validation_split, config.validation_split)):
            if widget.value != value:
                if widget is self.batch_size and value not in widget.options:
                    widget.options = sorted([*widget.options, value])
                if widget is self.validation_split and value not in widget.options.values():
                    widget.options = {**widget.options, f"{100 * value:g}%": value}
                widget.value = value

    def _data_changed(self) -> None:
        data = self.state.dataset
        if data is not None and not data.is_classification and self.loss.value != "mean_squared_error":
            self.loss.value = "mean_squared_error"
        elif data is not None and data.is_classification and self.loss.value == "mean_squared_error":
            self.loss.value = "categorical_crossentropy"

    def _trainer_changed(self) -> None:
        """A model that arrived from elsewhere (a project file): show how it was trained."""
        trainer = self.state.trainer
        if self.running is None and trainer is not None and trainer is not self._shown:
            self.curves.reset(trainer.history)
            self.history.object = self._history_table(trainer)
            self._say(t("Loaded a model trained for {epochs} epochs. Train more goes on from there.",
                        epochs=trainer.epochs_done))
        self._shown = trainer
        self._buttons()

    def setting_changed(self, field: str, value) -> None:
        """One setting changed: checked on its own, so a bad value never blocks the others."""
        if field == "validation_split":
            value = round(float(value), 4)
        try:
            if value is None:
                raise ValueError(t("training.{field} is empty; type a value", field=field))
            config = self.state.config.replace(**{field: value})
        except (SpecError, TypeError, ValueError) as error:
            self.message.object = notice(t("{error}. Training keeps using {value}.", error=error,
                                           value=repr(getattr(self.state.config, field))), "error")
            return
        self.message.object = ""
        self.state.config = config
        if self.running is not None:  # learning rate and batch size apply from the next chunk of steps
            self.running.config = self.running.config.replace(learning_rate=config.learning_rate,
                                                              batch_size=config.batch_size)

    # ---------------------------------------------------------------- control
    def _buttons(self) -> None:
        running = self.running is not None
        paused = running and self._paused
        self.start_button.disabled = running or self.state.network_problem() is not None
        self.more_button.disabled = running or self.state.trainer is None
        self.pause_button.disabled = not running or paused
        self.resume_button.disabled = not paused
        self.stop_button.disabled = not running

    def pause(self) -> None:
        if self.running is not None:
            self.running.pause()
            self._paused = True
            self._say(t("Paused: the weights wait where they are. Resume goes on from here."))
            self._buttons()

    def resume(self) -> None:
        if self.running is not None:
            self.running.resume()
            self._paused = False
            self._say(t("Training again…"))
            self._buttons()

    def stop(self) -> None:
        if self.running is not None:
            self.running.stop()
            self._stopping = True
            self._paused = False
            self._buttons()
            self._say(t("Stopping after the current steps…"))

    def _say(self, text: str) -> None:
        self.progress_text.object = f'<p aria-live="polite" class="hearth-progress">{escape(text)}</p>'

    def _show_network_problem(self, kind: str = "warning") -> None:
        self.network_note.object = notice(self.state.network_problem() or "", kind)

    def _cannot_start(self) -> str | None:
        if self.state.dataset is None:
            return t("Pick some data on the Data page first.")
        if self.state.spec is None:
            return t("Build a network on the Build page first.")
        return None

    async def start(self) -> None:
        """Train a new model from fresh weights with the current network, data and settings."""
        if self.running is not None:
            return
        if self.state.network_problem() is not None:
            self.message.object = ""
            self._show_network_problem("error")  # the same words, announced: Start was asked for anyway
            return
        problem = self._cannot_start()
        if problem:
            self.message.object = notice(problem, "error")
            return
        try:
            trainer = Trainer(self.state.spec, self.state.dataset, self.state.config, provider=self.state.provider,
                              steps_per_call=STEPS_PER_CALL)
        except (DataError, TrainingError, SpecError, ValueError) as error:
            self.message.object = notice(f"{error}. {self._kept()}", "error")
            return
        self.curves.reset()
        await self._run(trainer, self.state.config.epochs)

    async def train_more(self) -> None:
        """Go on training the current model for the set number of epochs."""
        trainer = self.state.trainer
        if self.running is not None or trainer is None:
            return
        config = self.state.config
        if (config.optimizer, config.loss) != (trainer.config.optimizer, trainer.config.loss):
            self.message.object = notice(t("A new optimizer or loss needs a fresh start: press Start training."),
                                         "error")
            return
        trainer.config = trainer.config.replace(learning_rate=config.learning_rate, batch_size=config.batch_size,
                                                augmentation=config.augmentation)
        await self._run(trainer, config.epochs)

    def _kept(self) -> str:
        return t("The model you had is still there.") if self.state.trainer is not None else t("Nothing was changed.")

    async def _run(self, trainer: Trainer, epochs: int) -> None:
        self.running = trainer
        self.state.training = True
        self.message.object = ""
        self._buttons()
        await self._show_backend_used(trainer)
        batches = -(-len(trainer.train_data) // trainer.config.batch_size)
        total = epochs * batches
        first_epoch = trainer.epochs_done
        started = time.perf_counter()
        last_update = last_plot = last_history = 0.0
        time_left = TimeLeft(total)
        self.curves.expect(total)

        def on_batch(p: BatchProgress) -> None:
            nonlocal last_update, last_plot
            self.curves.add_batch(p.epoch - 1 + p.batch / p.batches, p.loss, p.accuracy)
            now = time.perf_counter()
            done = (p.epoch - 1 - first_epoch) * p.batches + p.batch
            left = time_left(done, now)
            if now - last_update < UI_INTERVAL:
                return
            last_update = now
            if now - last_plot >= PLOT_INTERVAL:
                last_plot = now
                self.curves.flush()
            self.progress.value = int(1000 * done / max(total, 1))
            estimate = "" if left is None else " · " + t("about {duration} left", duration=_duration(left))
            self._say(t("Epoch {epoch} of {epochs} · batch {batch} of {batches} · loss {loss}", epoch=p.epoch - first_epoch,
                        epochs=epochs, batch=p.batch, batches=p.batches, loss=f"{p.loss:.3f}") + estimate)

        outcome = "done"
        try:
            async for metrics in trainer.fit(epochs, on_batch=on_batch):
                self.curves.add_epoch(metrics.to_dict())
                if time.perf_counter() - last_history > HISTORY_INTERVAL:
                    last_history = time.perf_counter()
                    self.history.object = self._history_table(trainer)
            self.curves.flush()
            self.history.object = self._history_table(trainer)
            if self._stopping:
                outcome = "stopped"
        except Exception as error:  # a runtime failure (e.g. WebGPU lost): say so, keep the last model
            outcome = "failed"
            self.message.object = notice(t("Training failed: {error}.", error=error) + " " + self._kept(), "error")
        finally:
            self.running = None
            self._paused = self._stopping = False
            self.state.training = False
        trained = trainer.epochs_done - first_epoch
        elapsed = time.perf_counter() - started
        if trainer.epochs_done > 0 and outcome != "failed":
            # the other pages get the model before "Done" is said, so Evaluate never shows the previous one
            self._shown = trainer
            await self.state.use_trainer(trainer)
        if outcome == "done":
            self.progress.value = 1000
            self._say(t("Done: 1 epoch in {duration}.", duration=_duration(elapsed)) if trained == 1 else
                      t("Done: {epochs} epochs in {duration}.", epochs=trained, duration=_duration(elapsed)))
        elif outcome == "stopped":
            self._say(t("Stopped after 1 complete epoch.") if trained == 1 else
                      t("Stopped after {epochs} complete epochs.", epochs=trained))
        elif self.state.trainer is not None:  # failed: show the model that is still there
            self.curves.reset(self.state.trainer.history)
            self.history.object = self._history_table(self.state.trainer)
            self._say(t("Training failed; the curves are those of the model you still have."))
        self._buttons()

    async def _show_backend_used(self, trainer: Trainer) -> None:
        runtime = get_runtime()
        provider = self.state.provider
        detail = t(BACKENDS[provider]) if provider in BACKENDS else provider
        threads = getattr(runtime, "threads", None)
        if provider == "wasm" and threads is not None:
            count = await threads()
            detail += ", " + (t("1 thread") if count == 1 else t("{count} threads", count=count))
        self.backend_info.object = ('<p style="margin:.2rem 0;color:#555">' + t(
            "Runs on {runtime} · {detail} · {params} parameters · {train} training and {validation} validation samples",
            runtime=escape(runtime.name), detail=escape(detail), params=number(trainer.spec.param_count),
            train=number(len(trainer.train_data)), validation=number(len(trainer.val_data))) + "</p>")

    @staticmethod
    def _history_table(trainer: Trainer) -> str:
        def pct(v):
            return "" if v is None else f"{100 * v:.1f}%"

        shown = trainer.history[-HISTORY_ROWS:]
        rows = [(h["epoch"], f"{h['loss']:.4f}", pct(h.get("accuracy")),
                 "" if h.get("val_loss") is None else f"{h['val_loss']:.4f}", pct(h.get("val_accuracy")),
                 f"{h['seconds']:.1f} s") for h in shown]
        caption = t("Epochs") if len(shown) == len(trainer.history) else t("The last {count} epochs", count=len(shown))
        return table([t("epoch"), t("loss"), t("accuracy"), t("validation loss"), t("validation accuracy"), t("time")],
                     rows, caption=caption)
