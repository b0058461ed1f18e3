"""The Train page: settings, a run with progress and growing curves, pause/stop, and failures that keep the model."""

import asyncio
from html import unescape

import numpy as np

from hearth.app.train_page import ESTIMATE_AFTER_BATCHES, ESTIMATE_AFTER_S, TimeLeft
from hearth.train import ModelSpec, Trainer
from tests.app.conftest import run


def test_a_run_trains_shows_progress_and_hands_the_model_on(trained):
    page, state = trained.train, trained.state
    trainer = state.trainer
    assert trainer is not None and trainer.epochs_done == 2
    batches = -(-len(trainer.train_data) // 32)
    assert page.curves.points == 2 * batches  # one point per batch
    assert page.curves.epochs.data["epoch"] == [1, 2]
    assert page.curves.epochs.data["val_accuracy"] == [h["val_accuracy"] for h in trainer.history]
    assert page.progress.value == page.progress.max
    assert "Done: 2 epochs" in page.progress_text.object
    assert "Runs on onnxruntime · CPU (onnxruntime)" in page.backend_info.object
    assert page.history.object.count("<tr>") == 3
    assert state.evaluation is not None and state.evaluation.confusion.sum() == len(trainer.val_data)
    assert not page.start_button.disabled and page.pause_button.disabled and not page.more_button.disabled


def test_the_run_is_what_the_engine_gives_for_these_settings(trained):
    """The page adds nothing of its own to training: the same spec, data and settings give the same curve."""
    state = trained.state
    reference = Trainer(ModelSpec(state.spec.to_dict()), state.dataset, state.config)
    history = run(reference.run(2))
    np.testing.assert_allclose([h["loss"] for h in state.trainer.history], [m.loss for m in history], rtol=1e-5)


def test_settings_are_checked_and_kept(app):
    page, state = app.train, app.state
    page.learning_rate.value = 0.05
    assert state.config.learning_rate == 0.05
    page.learning_rate.value = -1.0
    assert "learning_rate must be a number in [0.0, 10.0], got -1.0" in page.message.object
    assert "Training keeps using 0.05" in page.message.object
    assert state.config.learning_rate == 0.05
    page.optimizer.value = "sgd"
    page.batch_size.value = 64
    assert (state.config.optimizer, state.config.batch_size) == ("sgd", 64)


def test_pause_resume_and_stop_between_chunks(app):
    page, state = app.train, app.state
    page.epochs.value = 50
    steps = []

    async def scenario():
        task = asyncio.ensure_future(page.start())
        while page.running is None or page.running.engine.step < 20:  # let it train a little
            await asyncio.sleep(0)
        trainer = page.running
        page.pause()
        assert page.resume_button.disabled is False and page.pause_button.disabled is True
        for _ in range(3):
            await asyncio.sleep(0)  # the chunk under way finishes
        steps.append(trainer.engine.step)
        for _ in range(50):
            await asyncio.sleep(0)
        steps.append(trainer.engine.step)  # nothing moves while paused
        page.resume()
        resumed_at = trainer.epochs_done
        while trainer.epochs_done < resumed_at + 1:
            await asyncio.sleep(0)
        page.stop()
        await task
        return trainer

    trainer = run(scenario())
    assert steps[0] == steps[1]
    done = trainer.epochs_done
    assert f"Stopped after {done} complete epoch{'s' if done != 1 else ''}." in page.progress_text.object
    assert 1 <= done < 50 and state.trainer is trainer and not state.training
    assert page.curves.epochs.data["epoch"] == list(range(1, done + 1))
    assert page.running is None and not page.start_button.disabled


def test_a_failed_or_refused_training_keeps_the_model(trained):
    state, page = trained.state, trained.train
    model, history = state.trainer, list(state.trainer.history)
    state.provider = "webgpu"  # not on CPython: the runtime refuses, as a browser that lost its GPU would
    try:
        run(page.start())
    finally:
        state.provider = "cpu"
    assert "Training failed: provider 'webgpu' is not available" in unescape(page.message.object)
    assert "The model you had is still there." in page.message.object
    assert state.trainer is model and model.history == history and not state.training
    assert page.curves.epochs.data["epoch"] == [1, 2]
    state.spec_problem = "dense at position 3 needs ..."  # what the Build page sets for a broken stack
    try:
        run(page.start())
        assert unescape(page.network_note.object).count("Not ready: dense at position 3 needs .... Start training is "
                                                        "off until the network on the Build page works.") == 1
        assert 'role="alert"' in page.network_note.object and page.message.object == ""
        assert state.trainer is model
    finally:
        state.spec_problem = None


def test_train_more_goes_on_from_the_current_model(app):
    app.build.use_preset("logistic")
    app.train.epochs.value = 1
    run(app.train.start())
    first = app.state.trainer
    run(app.train.train_more())
    assert app.state.trainer is first and first.epochs_done == 2
    assert app.train.curves.epochs.data["epoch"] == [1, 2]
    app.train.optimizer.value = "sgd"
    run(app.train.train_more())
    assert "needs a fresh start" in app.train.message.object and first.epochs_done == 2


def test_time_left_waits_until_the_pace_means_something():
    left = TimeLeft(total=200)
    assert left(1, 10.0) is None  # the first report: its chunk also built the session
    assert left(8, 10.001) is None  # the rest of that chunk, reported at once
    assert left(8 + ESTIMATE_AFTER_BATCHES, 10.0 + ESTIMATE_AFTER_S / 2) is None  # batches, but too little time
    assert left(12, 10.0 + 3 * ESTIMATE_AFTER_S) is None  # time, but too few batches since
    estimate = left(8 + 4 * ESTIMATE_AFTER_BATCHES, 12.0)
    assert estimate == (12.0 - 10.0) / (4 * ESTIMATE_AFTER_BATCHES) * (200 - 8 - 4 * ESTIMATE_AFTER_BATCHES)


def test_no_time_left_is_shown_before_it_means_something(app, monkeypatch):
    said = []
    monkeypatch.setattr(app.train, "_say", said.append)
    app.train.epochs.value = 1
    run(app.train.start())
    progress = [line for line in said if line.startswith("Epoch")]
    assert progress and progress[0].startswith("Epoch 1 of 1 · batch 1 of 45 · loss ")
    assert "left" not in progress[0]
