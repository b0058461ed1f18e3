"""The Export page: take the trained model away (ONNX, a PyTorch script, the project file) or bring one back.

A project file holds the network, its weights and optimizer state, the training settings and the
history, so opening it carries on exactly where training stopped. It needs the data it was trained
on (the same classes); a built-in dataset is loaded by itself.
"""

from __future__ import annotations

import io
from html import escape

import panel as pn

from hearth.app.state import AppState
from hearth.app.tasks import background
from hearth.app.train_page import STEPS_PER_CALL
from hearth.app.widgets.html import heading, notice, wrap_row
from hearth.i18n import number, t
from hearth.runtime import site_file
from hearth.train.data import BUILTIN_DATASETS, DataError, Dataset, load_builtin
from hearth.train.export import export_onnx, export_pytorch
from hearth.train.layers import SpecError
from hearth.train.project import ProjectError, load_project, save_project
from hearth.train.trainer import Trainer, TrainingError


class ExportPage:
    def __init__(self, state: AppState) -> None:
        self.state = state
        self.onnx = pn.widgets.FileDownload(callback=self._onnx_file, filename="hearth_model.onnx",
                                            label=t("Download the ONNX model"), color="primary", width=280)
        self.pytorch = pn.widgets.FileDownload(callback=self._pytorch_file, filename="hearth_model.py",
                                               label=t("Download the PyTorch script"), width=280)
        self.project = pn.widgets.FileDownload(callback=self._project_file, filename="hearth_model.hearth",
                                               label=t("Download the project file"), width=280)
        self.open = pn.widgets.FileInput(label=t("Open a project file (.hearth)"), accept=".hearth,.zip")
        self.open.param.watch(lambda _e: background(self.open_project()), "value")
        self.info = pn.pane.HTML("", sizing_mode="stretch_width")
        self.message = pn.pane.HTML("", sizing_mode="stretch_width")
        self.view = pn.Column(
            pn.pane.HTML(heading(t("6. Export"), 2)), self.info,
            wrap_row(self.onnx, self.pytorch, self.project),
            pn.pane.HTML("<ul style='margin:.2rem 0;color:#444;font-size:.9rem'>" + t(
                         "<li><strong>ONNX</strong>: the trained network for any ONNX runtime (input x → class "
                         "probabilities).</li><li><strong>PyTorch script</strong>: the same network in torch.nn, "
                         "weights inside; run it with <code>python hearth_model.py inputs.npy</code>.</li>"
                         "<li><strong>Project file</strong>: everything, to carry on training here later.</li>")
                         + "</ul>"),
            pn.pane.HTML(heading(t("Open a project"))), self.open, self.message, sizing_mode="stretch_width")
        state.param.watch(lambda _e: self.show(), "trainer")
        self.show()

    def show(self) -> None:
        trainer = self.state.trainer
        for button in (self.onnx, self.pytorch, self.project):
            button.disabled = trainer is None
        if trainer is None:
            self.info.object = notice(t("Train a model first (Train page), or open a project file below."), "info")
            return
        name = self.state.project_name
        self.onnx.filename, self.pytorch.filename, self.project.filename = (
            f"{name}.onnx", f"{name}.py", f"{name}.hearth")
        self.info.object = "<p>" + t("The model trained on <strong>{data}</strong> for {epochs} epochs: {layers} layers, "
                                     "{params} parameters.", data=escape(trainer.data.name), epochs=trainer.epochs_done,
                                     layers=len(trainer.spec.summary), params=number(trainer.spec.param_count)) + "</p>"

    # ---------------------------------------------------------------- files
    async def onnx_bytes(self) -> bytes:
        trainer = self.state.trainer
        return export_onnx(trainer.spec, trainer.config.loss, await trainer.weights(), trainer.classes)

    async def pytorch_text(self) -> str:
        trainer = self.state.trainer
        text, _ = export_pytorch(trainer.spec, trainer.config.loss, await trainer.weights(), trainer.classes,
                                 steps=trainer.engine.step)
        return text

    async def project_bytes(self) -> bytes:
        return save_project(await self.state.trainer.to_project())

    async def _onnx_file(self) -> io.BytesIO:
        return io.BytesIO(await self.onnx_bytes())

    async def _pytorch_file(self) -> io.BytesIO:
        return io.BytesIO((await self.pytorch_text()).encode())

    async def _project_file(self) -> io.BytesIO:
        return io.BytesIO(await self.project_bytes())

    # ---------------------------------------------------------------- opening
    async def _data_for(self, project) -> tuple[Dataset, dict | None]:
        """The data to pair the project with: what is loaded if it fits, else its built-in dataset."""
        current = self.state.dataset
        wanted = project.data.get("name", "")
        shape = tuple(project.data.get("sample_shape") or ())
        if current is not None and list(current.classes) == list(project.classes) and (
                not shape or current.sample_shape == shape):
            return current, None
        if wanted in BUILTIN_DATASETS:
            return load_builtin(wanted, await site_file(f"data/{wanted}.npz")), {"kind": "builtin", "name": wanted}
        classes = ", ".join(project.classes[:6]) + (", ..." if len(project.classes) > 6 else "")
        raise DataError(t("this project was trained on {data} (classes {classes}); load that data on the Data page "
                          "first, then open the project again", data=wanted or t("other data"), classes=classes))

    async def open_project(self, data: bytes | None = None) -> None:
        raw = data if data is not None else self.open.value
        if not raw:
            return
        try:
            project = load_project(raw)
            dataset, source = await self._data_for(project)
            trainer = Trainer.from_project(project, dataset, provider=self.state.provider,
                                           steps_per_call=STEPS_PER_CALL)
        except (ProjectError, SpecError, DataError, TrainingError, ValueError) as error:
            kept = " " + t("The model you had is still there.") if self.state.trainer is not None else ""
            self.message.object = notice(f"{error}.{kept}", "error")
            return
        updates = {"dataset": dataset, "data_source": source} if source is not None else {}
        self.state.param.update(**updates, project_name=trainer.spec.name or "hearth_model")
        self.state.spec = trainer.spec
        self.state.loaded_spec += 1
        self.state.config = trainer.config
        await self.state.use_trainer(trainer)
        self.message.object = notice(t("Opened: a model trained on {data} for {epochs} epochs. Evaluate, Predict and "
                                       "Train more use it now.", data=dataset.name, epochs=trainer.epochs_done), "success")
