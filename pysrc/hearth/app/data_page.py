"""The Data page: pick a built-in dataset, or bring a CSV table, a ZIP of images or webcam shots.

Every loader is all-or-nothing: a file that cannot be used gets a message saying what to change,
and the data already loaded stays as it was. Messages are whole sentences that name the file the
student chose, and advise only what this page can do.
"""

from __future__ import annotations

import csv
import io
import re

import panel as pn

from hearth.app import dataset_view
from hearth.app.state import AppState
from hearth.app.widgets.html import heading, message_pane, notice, wrap_row
from hearth.app.widgets.images import gallery, img_tag
from hearth.app.widgets.number_box import IntBox
from hearth.app.widgets.webcam import Webcam
from hearth.i18n import N_, number, t
from hearth.runtime import site_file
from hearth.train.data import (
    BUILTIN_DATASETS,
    DataError,
    Dataset,
    ImageCollection,
    decode_text,
    load_builtin,
    load_csv,
    load_images,
)

SOURCES = [N_("Built-in"), N_("CSV table"), N_("Images (ZIP)"), N_("Webcam")]  # values; shown with t()
FILE = "\x00file\x00"  # stands for the file's name in a message made before the name is known
UNNAMED_FILE = N_("The file you chose")  # what a message calls a file whose name has not arrived (see _file_changed)


def sentence(text: str) -> str:
    """A loader's message as a sentence: a capital first letter, unless the text starts with a name
    (a file, "a/1.png", or a column), and a full stop, so the next sentence does not run into it."""
    text = text.strip()
    if re.match(r"[^\W\d_]+[ ,;:]", text) and text[0].islower():  # a word ("für" too); "data.csv" stays as it is
        text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


class DataPage:
    def __init__(self, state: AppState) -> None:
        self.state = state
        self.message = message_pane()
        self.source = pn.widgets.RadioButtonGroup(label=t("Where the data comes from"),
                                                  options={t(source): source for source in SOURCES},
                                                  value="Built-in", color="default")
        self.source.param.watch(lambda _e: self._show_source(), "value")

        self.builtin = pn.widgets.Select(label=t("Built-in dataset"), value="digits",
                                         options={f"{name}: {t(text)}": name for name, text in BUILTIN_DATASETS.items()})
        self.builtin_button = pn.widgets.Button(label=t("Use this dataset"), color="primary")
        self.builtin_button.on_click(lambda _e: self._start(self.use_builtin()))

        self.csv_file = pn.widgets.FileInput(label=t("CSV file (a header row, then one row per sample)"),
                                             accept=".csv,.tsv,.txt,text/csv")
        # The page sends the file's bytes and its name as separate changes, in an order Python cannot
        # rely on: both are watched, and a message names the file only once both of a pick are here.
        self.csv_file.param.watch(self._file_changed, ["value", "filename"])
        self._pick: set[str] = set()  # what of the latest pick has arrived: "value", "filename"
        self._header: list[str] = []  # the chosen file's columns ([] until one is read)
        self._file_problem: DataError | None = None  # why the chosen file cannot be a table
        self.csv_label = pn.widgets.Select(label=t("Label column (what to predict)"), options=[], width=230)
        self.csv_label.param.watch(lambda _e: self._offer_features(), "value")
        # Feature columns: every column but the label, ticked; unticking leaves a column out (a text
        # column, or one the network should not see). What was unticked stays so while the label changes.
        self.csv_features = pn.widgets.CheckBoxGroup(options=[], value=[], inline=True,
                                                     sizing_mode="stretch_width")
        self.csv_features.param.watch(self._features_ticked, "value")
        self._left_out: set[str] = set()
        self._offering = False
        self.csv_normalize = pn.widgets.Select(label=t("Scale the features"), value="standard", options={
            t("Standardise (mean 0, spread 1)"): "standard", t("Min-max to 0..1"): "minmax",
            t("Leave as they are"): "none"}, width=240)
        self.csv_task = pn.widgets.Select(label=t("Task"), value="auto", options={
            t("Decide from the label"): "auto", t("Classification (labels are classes)"): "classification",
            t("Regression (labels are numbers to predict)"): "regression"}, width=300)
        self.csv_button = pn.widgets.Button(label=t("Use this table"), color="primary")
        self.csv_button.on_click(lambda _e: self.use_csv())

        self.zip_file = pn.widgets.FileInput(label=t("ZIP with one folder of images per class"), accept=".zip")
        self.image_height = IntBox(label=t("Height (pixels)"), value=28, start=4, end=128, width=140)
        self.image_width = IntBox(label=t("Width (pixels)"), value=28, start=4, end=128, width=140)
        self.image_channels = pn.widgets.Select(label=t("Colour"), value=1, options={t("Grey"): 1, t("Colour"): 3},
                                                width=140)
        self.zip_button = pn.widgets.Button(label=t("Use these images"), color="primary")
        self.zip_button.on_click(lambda _e: self.use_zip())

        self.webcam: Webcam | None = None  # the camera starts only when this section is opened
        self.collection = ImageCollection(size=(32, 32), channels=3)
        self.class_name = pn.widgets.TextInput(label=t("New class name"), placeholder=t("e.g. thumbs up"), width=220)
        self.add_class_button = pn.widgets.Button(label=t("Add class"), width=140, margin=(22, 10, 5, 10))
        self.add_class_button.on_click(lambda _e: self.add_class())
        self.shot_class = pn.widgets.Select(label=t("Class to add shots to"), options=[], width=220)
        self.shot_button = pn.widgets.Button(label=t("Take a shot"), width=140, margin=(22, 10, 5, 10))
        self.shot_button.on_click(lambda _e: self._start(self.take_shots(1)))
        self.burst_button = pn.widgets.Button(label=t("Take 10 shots"), width=150, margin=(22, 10, 5, 10))
        self.burst_button.on_click(lambda _e: self._start(self.take_shots(10)))
        self.shots = pn.pane.HTML("", sizing_mode="stretch_width")
        self.shots_button = pn.widgets.Button(label=t("Use these shots"), color="primary")
        self.shots_button.on_click(lambda _e: self.use_shots())

        self._loaded: Dataset | None = None  # the last data this page loaded itself
        self.summary = pn.pane.HTML("", sizing_mode="stretch_width")
        self.counts = pn.pane.HTML("", sizing_mode="stretch_width")
        self.samples = pn.pane.HTML("", sizing_mode="stretch_width")
        self.preview = pn.pane.HTML("", sizing_mode="stretch_width")
        self.source_area = pn.Column(sizing_mode="stretch_width")
        self._show_source()
        self.view = pn.Column(
            pn.pane.HTML(heading(t("1. Data"), 2) + "<p>" + t("What the network learns from. Everything stays in this "
                         "browser.") + "</p>"),
            pn.pane.HTML(f'<span id="data-source-label">{t("Where the data comes from:")}</span>'),
            self.source, self.source_area, self.message,
            pn.pane.HTML(heading(t("Loaded data"))), self.summary,
            pn.pane.HTML(heading(t("Samples per class"), 4)), self.counts,
            pn.pane.HTML(heading(t("Samples"), 4)), self.samples,
            self.preview, sizing_mode="stretch_width")
        state.param.watch(lambda _e: self.show_dataset(), "dataset")
        self.show_dataset()

    # ---------------------------------------------------------------- layout
    def _show_source(self) -> None:
        source = self.source.value
        if source == "Built-in":
            objects = [self.builtin, self.builtin_button]
        elif source == "CSV table":
            objects = [self.csv_file, wrap_row(self.csv_label, self.csv_normalize, self.csv_task),
                       pn.pane.HTML('<span class="hearth-features-label">' + t("Feature columns (what the network learns "
                                    "from; untick a column to leave it out):") + "</span>", margin=(5, 10, 0, 10)),
                       self.csv_features, self.csv_button]
        elif source == "Images (ZIP)":
            objects = [pn.pane.HTML("<p>" + t("Put each class's pictures in a folder named after the class "
                                    "(cats/1.png, dogs/7.jpg), zip the folders, and choose the ZIP.") + "</p>"),
                       self.zip_file, wrap_row(self.image_height, self.image_width, self.image_channels),
                       self.zip_button]
        else:
            if self.webcam is None:
                self.webcam = Webcam()
            objects = [pn.pane.HTML("<p>" + t("Add a class, hold something up to the camera and take shots; then the "
                                    "next class. The pictures stay in this browser.") + "</p>"),
                       self.webcam.view, wrap_row(self.class_name, self.add_class_button),
                       wrap_row(self.shot_class, self.shot_button, self.burst_button), self.shots,
                       self.shots_button]
        self.source_area.objects = objects

    def show_dataset(self) -> None:
        data = self.state.dataset
        if data is not self._loaded:  # data that came from elsewhere (a project file): old news goes
            self.message.object = ""
        if data is None:
            self.summary.object = f"<p>{t('No data yet: pick a dataset above.')}</p>"
            self.counts.object = self.samples.object = self.preview.object = ""
            return
        self.summary.object = dataset_view.summary(data)
        self.counts.object = dataset_view.class_counts(data)
        self.samples.object = dataset_view.samples(data) or f"<p>{t('(not images)')}</p>"
        self.preview.object = dataset_view.preview(data)

    def _start(self, coro) -> None:
        from hearth.app.tasks import background

        background(coro)

    def _done(self, data: Dataset, text: str, source: dict) -> None:
        self._loaded = data
        self.state.param.update(dataset=data, data_source=source)
        self.message.object = notice(text, "success")

    def _failed(self, error: Exception) -> None:
        kept = " " + t("The data you had ({name}) is still loaded.", name=self.state.dataset.name) \
            if self.state.dataset else ""
        self.message.object = notice(f"{sentence(str(error))}{kept}", "error")

    # ---------------------------------------------------------------- loaders
    async def use_builtin(self, name: str | None = None) -> None:
        name = name or self.builtin.value
        self.builtin.value = name
        try:
            if name not in BUILTIN_DATASETS:
                load_builtin(name)  # says which names there are
            data = load_builtin(name, await site_file(f"data/{name}.npz"))
        except (DataError, FileNotFoundError) as error:
            self._failed(error)
            return
        self._done(data, t("Loaded {name}: {count} samples.", name=name, count=number(len(data))),
                   {"kind": "builtin", "name": name})

    def _file_changed(self, *events) -> None:
        """A CSV file was chosen: read its header and say what it holds, naming the file.

        A pick changes the value, the name or both, one change at a time in the browser. Until both
        of a pick have arrived the file is "the file you chose": the name on the widget may still
        be the previous file's (and when a file of the same name is chosen again, no new name comes).
        """
        changed = {event.name for event in events}
        if changed & self._pick or changed == {"value", "filename"}:
            self._pick = set()  # something already seen changed again: a new pick
        self._pick |= changed
        if "value" in changed:
            self._read_header(self.csv_file.value)
        named = "filename" in self._pick and self.csv_file.filename
        self._show_header(self.csv_file.filename if named else t(UNNAMED_FILE))

    def _read_header(self, raw: bytes | None) -> None:
        self._header, self._file_problem = [], None
        if raw:
            try:
                text = decode_text(raw, FILE)  # the name goes in when it is known (_show_header)
            except DataError as error:
                self._file_problem = error
                text = ""
            try:
                first = next((line for line in text.splitlines() if line.strip()), "")
                dialect = csv.Sniffer().sniff(first, delimiters=",;\t") if first else csv.excel
                header = next(csv.reader(io.StringIO(first), dialect))
            except (csv.Error, StopIteration):
                header = []
            self._header = [h.strip() for h in header if h.strip()]
        self._left_out = set()
        self.csv_label.options = self._header
        if self._header:
            self.csv_label.value = self._header[-1]
        self._offer_features()

    def _show_header(self, name: str) -> None:
        if not self.csv_file.value:
            return  # nothing chosen (a cancelled pick): what the page said stays
        if self._file_problem is not None:
            self.message.object = notice(sentence(str(self._file_problem).replace(FILE, name)), "error")
        elif self._header:
            self.message.object = notice(t("{file} has the columns {columns}. Choose the label column, then press "
                                           "Use this table.", file=name, columns=", ".join(self._header)), "info")
        else:
            self.message.object = notice(t("{file} has no header row that Hearth can read. The first line should "
                                           "name the columns, separated by commas.", file=name), "error")

    def _offer_features(self) -> None:
        """Every column but the label as a feature to tick, ticked unless the student left it out."""
        options = [h for h in self._header if h != self.csv_label.value]
        self._offering = True
        try:
            self.csv_features.param.update(options=options, value=[h for h in options if h not in self._left_out])
        finally:
            self._offering = False

    def _features_ticked(self, event) -> None:
        if not self._offering:
            self._left_out = (self._left_out | set(self.csv_features.options)) - set(event.new)

    def use_csv(self) -> None:
        if not self.csv_file.value:
            self.message.object = notice(t("Choose a CSV file first."), "error")
            return
        filename = self.csv_file.filename or "table.csv"
        name = filename.rsplit(".", 1)[0]
        normalize = None if self.csv_normalize.value == "none" else self.csv_normalize.value
        left_out = [h for h in self._header if h in self._left_out and h != self.csv_label.value]
        features = list(self.csv_features.value) if left_out else None
        try:
            # named after the file in messages ("data.csv has ..."), after its stem once loaded
            data = load_csv(self.csv_file.value, label=self.csv_label.value or None, features=features,
                            normalize=normalize, task=self.csv_task.value, name=filename)
        except DataError as error:
            self._failed(error)
            return
        data.name = name
        source = {"kind": "csv", "file": filename, "label": self.csv_label.value, "normalize": normalize,
                  "task": self.csv_task.value}
        if features is not None:
            source["features"] = features
        loaded = t("Loaded {name}: {count} rows, {features} features ({left_out} left out).", name=name,
                   count=number(len(data)), features=data.x.shape[1], left_out=", ".join(left_out)) if left_out \
            else t("Loaded {name}: {count} rows, {features} features.", name=name, count=number(len(data)),
                   features=data.x.shape[1])
        self._done(data, loaded, source)

    def use_zip(self) -> None:
        if not self.zip_file.value:
            self.message.object = notice(t("Choose a ZIP file first."), "error")
            return
        name = (self.zip_file.filename or "images").rsplit(".", 1)[0]
        try:
            data = load_images(self.zip_file.value, size=(self.image_height.value, self.image_width.value),
                               channels=self.image_channels.value, name=name)
        except DataError as error:
            self._failed(error)
            return
        self._done(data, t("Loaded {name}: {count} images in {classes} classes.", name=name, count=number(len(data)),
                           classes=len(data.classes)),
                   {"kind": "images", "file": self.zip_file.filename or "images.zip",
                    "size": [self.image_height.value, self.image_width.value], "channels": self.image_channels.value})

    # ---------------------------------------------------------------- webcam
    def add_class(self) -> None:
        label = self.class_name.value.strip()
        try:
            self.collection.add_class(label)
        except DataError as error:
            self.message.object = notice(str(error), "error")
            return
        self.class_name.value = ""
        self.shot_class.options = list(self.collection.images)
        self.shot_class.value = label
        self.message.object = notice(t("Class {name} added: take some shots of it.", name=repr(label)), "info")
        self._show_shots()

    async def take_shots(self, count: int) -> None:
        label = self.shot_class.value
        if not label:
            self.message.object = notice(t("Add a class first (type a name, then Add class)."), "error")
            return
        if self.webcam is None:
            self.webcam = Webcam()
        try:
            for _ in range(count):
                self.collection.add(label, await self.webcam.shot())
        except DataError as error:
            self.message.object = notice(str(error), "error")
        self._show_shots()

    def _show_shots(self) -> None:
        figures = []
        for label, images in self.collection.images.items():
            caption = t("{name}: 1 shot", name=label) if len(images) == 1 else t("{name}: {count} shots", name=label,
                                                                                 count=len(images))
            if images:
                figures.append(img_tag(images[-1], alt=t("the last shot of {name}", name=label), size=64,
                                       caption=caption))
            else:
                figures.append(f"<p>{caption}</p>")
        self.shots.object = gallery(figures, t("Shots per class"))

    def use_shots(self) -> None:
        try:
            data = self.collection.to_dataset("webcam")
        except DataError as error:
            self._failed(error)
            return
        self._done(data, t("Using {count} webcam shots in {classes} classes.", count=len(data), classes=len(data.classes)),
                   {"kind": "webcam", "size": list(self.collection.size), "channels": self.collection.channels})
