"""The Evaluate page: how the trained model does on data it never trained on (the validation share).

A confusion matrix (which classes it mixes up), accuracy per class, the examples it got wrong, and
what the convolution layers see in one chosen input (their feature maps), and where the last one
looks for a class (a Grad-CAM heat map).
"""

from __future__ import annotations

from html import escape

import numpy as np
import panel as pn

from hearth.app.gradcam_view import GradCamView
from hearth.app.state import AppState
from hearth.app.tasks import background
from hearth.app.widgets.html import bars, heading, notice, table, wrap_row
from hearth.app.widgets.images import gallery, img_tag
from hearth.app.widgets.number_box import IntBox
from hearth.i18n import number, t
from hearth.train.trainer import Evaluation

MAX_MISTAKES = 24
MAX_MAPS = 16  # channels shown per layer


def confusion_html(confusion: np.ndarray, classes: list[str]) -> str:
    """Rows are the true classes, columns what the model said; the diagonal is what it got right."""
    totals = confusion.sum(axis=1, keepdims=True).clip(min=1)
    head = "".join(f'<th scope="col">{escape(c)}</th>' for c in classes)
    rows = []
    for i, name in enumerate(classes):
        cells = []
        for j in range(len(classes)):
            count = int(confusion[i, j])
            share = count / totals[i, 0]
            hue = "29,94,44" if i == j else "192,57,43"
            alpha = 0.08 + 0.8 * share if count else 0
            title = t("true {true}, predicted {predicted}: {count}", true=escape(name), predicted=escape(classes[j]),
                      count=count)
            cells.append(f'<td style="background:rgba({hue},{alpha:.2f});text-align:center;min-width:1.8rem" '
                         f'title="{title}">{count}</td>')
        rows.append(f'<tr><th scope="row">{escape(name)}</th>{"".join(cells)}</tr>')
    caption, corner = t("Rows: the true class. Columns: what the model predicted."), t("true \\ predicted")
    return (f'<div style="overflow-x:auto;max-width:100%"><table class="hearth-confusion" '
            f'style="border-collapse:collapse;font-size:.85rem;font-variant-numeric:tabular-nums">'
            f'<caption style="text-align:left;padding:.2rem 0">{caption}'
            f'</caption><thead><tr><th scope="col">{corner}</th>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>'
            "<style>.hearth-confusion td,.hearth-confusion th{border:1px solid #e6ddd3;padding:.2rem .35rem}</style>")


class EvaluatePage:
    def __init__(self, state: AppState) -> None:
        self.state = state
        self.summary = pn.pane.HTML("", sizing_mode="stretch_width")
        self.matrix = pn.pane.HTML("", sizing_mode="stretch_width")
        self.per_class = pn.pane.HTML("", sizing_mode="stretch_width")
        self.mistakes = pn.pane.HTML("", sizing_mode="stretch_width")
        self.sample = IntBox(label=t("Validation sample number"), value=1, start=1, width=180)
        self.maps_button = pn.widgets.Button(label=t("Show feature maps"), width=190, margin=(22, 10, 5, 10))
        self.maps_button.on_click(lambda _e: background(self.show_feature_maps(self.sample.value - 1)))
        self.maps = pn.pane.HTML("", sizing_mode="stretch_width")
        self.gradcam = GradCamView("this sample")
        self.gradcam.button.on_click(lambda _e: background(self.show_grad_cam(self.sample.value - 1)))
        self.view = pn.Column(
            pn.pane.HTML(heading(t("4. Evaluate"), 2) + "<p>" + t("How the trained model does on the validation share: "
                         "data it never trained on.") + "</p>"),
            self.summary, pn.pane.HTML(heading(t("Confusion matrix"))), self.matrix,
            pn.pane.HTML(heading(t("Accuracy per class"))), self.per_class,
            pn.pane.HTML(heading(t("Examples it got wrong"))), self.mistakes,
            pn.pane.HTML(heading(t("Feature maps")) + "<p>" + t("What each convolution and pooling layer finds in one "
                         "input: one small picture per filter, bright where the filter responds.") + "</p>"),
            wrap_row(self.sample, self.maps_button), self.maps, self.gradcam.view, sizing_mode="stretch_width")
        state.param.watch(lambda _e: self.show(), "evaluation")
        state.param.watch(lambda _e: self.gradcam.use(state.trainer), "trainer")
        self.gradcam.use(state.trainer)
        self.show()

    def show(self) -> None:
        trainer, evaluation = self.state.trainer, self.state.evaluation
        if trainer is None:
            self.summary.object = notice(t("No trained model yet: train one on the Train page (or load a project "
                                           "file on the Export page)."), "info")
            self.matrix.object = self.per_class.object = self.mistakes.object = self.maps.object = ""
            return
        if evaluation is None:
            self.summary.object = notice(t("This model was trained with no validation share, so there is nothing "
                                           "held back to evaluate on; set a validation share above 0 and train "
                                           "again."), "info")
            self.matrix.object = self.per_class.object = self.mistakes.object = ""
            return
        val = trainer.val_data
        self.sample.end = len(val)
        accuracy = ("" if evaluation.accuracy is None
                    else " · " + t("accuracy <strong>{accuracy}</strong>", accuracy=f"{100 * evaluation.accuracy:.1f}%"))
        self.summary.object = ("<p>" + t("Validation: {count} samples of {data}", count=number(len(val)),
                                         data=escape(trainer.data.name)) + accuracy + " · "
                               + t("loss {loss} · after {epochs} epochs", loss=f"{evaluation.loss:.4f}",
                                   epochs=trainer.epochs_done) + "</p>")
        if evaluation.confusion is None:
            self.matrix.object = f"<p>{t('(a regression model has no classes to confuse)')}</p>"
            self.per_class.object = self.mistakes.object = ""
            return
        self.matrix.object = confusion_html(evaluation.confusion, evaluation.classes)
        totals = evaluation.confusion.sum(axis=1)
        right = np.diag(evaluation.confusion)
        self.per_class.object = bars([(c, float(r / n) if n else 0.0) for c, r, n in
                                      zip(evaluation.classes, right, totals, strict=True)],
                                     maximum=1.0, percent=True, label=t("Accuracy per class"))
        self.mistakes.object = self._mistakes(evaluation)

    def _mistakes(self, evaluation: Evaluation) -> str:
        val = self.state.trainer.val_data
        probs = evaluation.probabilities
        predicted = probs.argmax(axis=1) if probs.shape[1] > 1 else (probs[:, 0] > 0.5).astype(int)
        wrong = np.flatnonzero(predicted != val.labels)
        if not len(wrong):
            return f"<p>{t('None: every validation sample was classified right.')}</p>"
        classes = evaluation.classes
        shown = wrong[:MAX_MISTAKES]
        more = "<p>" + t("{wrong} wrong in all; the first {shown} are shown.", wrong=len(wrong), shown=len(shown)) \
            + "</p>" if len(wrong) > len(shown) else ""

        def confidence(i: int) -> float:
            return float(probs[i].max()) if probs.shape[1] > 1 else float(max(probs[i, 0], 1 - probs[i, 0]))

        if len(val.sample_shape) == 3:
            figures = [img_tag(val.x[i], size=56, alt=t("sample {number}: true {true}, predicted {predicted}", number=i + 1,
                                                        true=classes[val.labels[i]], predicted=classes[predicted[i]]),
                               caption=f"#{i + 1}: {classes[val.labels[i]]} → "
                               f"{classes[predicted[i]]} ({100 * confidence(i):.0f}%)") for i in shown]
            return more + gallery(figures, t("Misclassified validation samples"))
        names = val.feature_names[:5] or [f"x{j + 1}" for j in range(min(5, val.x.shape[1]))]
        rows = [(i + 1, classes[val.labels[i]], classes[predicted[i]], f"{100 * confidence(i):.0f}%",
                 *[float(v) for v in val.x[i, :len(names)]]) for i in shown]
        return more + table(["#", t("true"), t("predicted"), t("confidence"), *names], rows,
                            caption=t("Misclassified validation samples (features as scaled for training)"))

    async def show_feature_maps(self, index: int) -> None:
        trainer = self.state.trainer
        if trainer is None:
            self.maps.object = notice(t("Train a model first."), "info")
            return
        val = trainer.val_data if len(trainer.val_data) else trainer.train_data
        if not 0 <= index < len(val):
            self.maps.object = notice(t("Choose a sample from 1 to {count}.", count=len(val)), "error")
            return
        layers = [(info, maps) for info, maps in await trainer.feature_maps(val.x[index]) if maps.ndim == 4]
        if not layers:
            self.maps.object = notice(t("Feature maps come from convolution layers, and this network has none: try "
                                        "the Small CNN or LeNet preset on the Build page."), "info")
            return
        label = val.classes[val.labels[index]] if val.is_classification else ""
        parts = ["<p>" + t("Sample #{number} {label}:", number=index + 1, label=escape(label)) + "</p>",
                 img_tag(val.x[index], alt=t("validation sample {number}", number=index + 1), size=96)]
        for info, maps in layers:
            channels = maps.shape[3]
            figures = [img_tag(maps[0, :, :, c], alt=t("{layer} {position}, filter {number}", layer=info.type,
                                                       position=info.position, number=c + 1), size=48,
                               caption=str(c + 1), stretch=True) for c in range(min(channels, MAX_MAPS))]
            shape = " × ".join(map(str, info.output_shape))
            extra = " " + t("(first {shown} of {count})", shown=MAX_MAPS, count=channels) if channels > MAX_MAPS else ""
            parts.append(heading(f"{info.position} {info.type}: {shape}{extra}", 4))
            parts.append(gallery(figures, t("Feature maps of {layer} at position {position}", layer=info.type,
                                            position=info.position)))
        self.maps.object = "".join(parts)

    async def show_grad_cam(self, index: int) -> None:
        """The Grad-CAM heat map of validation sample `index` for the class chosen beside the button."""
        trainer = self.state.trainer
        val = None if trainer is None else trainer.val_data if len(trainer.val_data) else trainer.train_data
        if val is not None and not 0 <= index < len(val):
            self.gradcam.out.object = notice(t("Choose a sample from 1 to {count}.", count=len(val)), "error")
            return
        await self.gradcam.show(trainer, None if val is None else val.x[index])
