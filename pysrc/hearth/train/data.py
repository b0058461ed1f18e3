"""Data for training: the built-in datasets, CSV tables and labelled images, as one `Dataset`.

Loaders take bytes or text (what a browser file picker or fetch hands over) as well as paths, and
are pure: a bad file raises `DataError` with what was wrong and what to do, and whatever dataset
the caller already holds is untouched. `ImageCollection` gathers images class by class (uploads,
ZIPs, webcam shots); an add that fails adds nothing.
"""

from __future__ import annotations

import csv
import io
import os
import zipfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from hearth.i18n import N_, t

__all__ = ["DataError", "Dataset", "BUILTIN_DATASETS", "load_builtin", "load_csv", "load_images",
           "ImageCollection", "default_data_dir", "normalize_like", "decode_text", "file_kind"]


class DataError(ValueError):
    """Data that cannot be used as given; the message says what to change."""


@dataclass
class Dataset:
    """Samples and targets, ready for a Trainer.

    x: float32 (N, *sample_shape), images as (height, width, channels).
    y: float32 (N, K): one-hot rows when `classes` is set, regression targets when it is empty.
    """

    x: np.ndarray
    y: np.ndarray
    classes: list[str]
    name: str = "data"
    feature_names: list[str] = field(default_factory=list)
    normalization: dict[str, Any] | None = None  # how x was scaled, to apply the same to new inputs
    skipped: list[str] = field(default_factory=list)  # files a loader left out, and why

    def __post_init__(self) -> None:
        self.x = np.ascontiguousarray(self.x, dtype=np.float32)
        self.y = np.ascontiguousarray(self.y, dtype=np.float32)
        if self.y.ndim != 2 or len(self.x) != len(self.y):
            raise DataError(f"{self.name}: {len(self.x)} samples but targets of shape {self.y.shape}")

    @classmethod
    def from_labels(cls, x: np.ndarray, labels: Sequence[Any], classes: Sequence[str] | None = None,
                    **kwargs: Any) -> Dataset:
        labels = [str(label) for label in labels]
        classes = list(classes) if classes is not None else sorted(set(labels), key=_natural)
        index = {c: i for i, c in enumerate(classes)}
        missing = sorted(set(labels) - set(index))
        if missing:
            raise DataError(f"labels {missing} are not among the classes {classes}")
        y = np.zeros((len(labels), len(classes)), np.float32)
        y[np.arange(len(labels)), [index[label] for label in labels]] = 1.0
        return cls(np.asarray(x, np.float32), y, classes, **kwargs)

    def __len__(self) -> int:
        return len(self.x)

    def __repr__(self) -> str:
        kind = f"{len(self.classes)} classes" if self.classes else f"{self.y.shape[1]} target(s)"
        return f"Dataset({self.name!r}, {len(self)} samples of {list(self.sample_shape)}, {kind})"

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])

    @property
    def is_classification(self) -> bool:
        return bool(self.classes)

    @property
    def labels(self) -> np.ndarray:
        """Class index of each sample (classification only)."""
        return self.y.argmax(axis=1)

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=len(self.classes)) if len(self) else [0] * len(self.classes)
        return {c: int(n) for c, n in zip(self.classes, counts, strict=True)}

    def subset(self, index: np.ndarray) -> Dataset:
        return replace(self, x=self.x[index], y=self.y[index], skipped=[])

    def split(self, fraction: float, seed: int) -> tuple[Dataset, Dataset]:
        """(train, validation); stratified by class so small datasets keep every class in both."""
        rng = np.random.default_rng([seed, 7919])
        if fraction <= 0 or len(self) < 2:
            return self, self.subset(np.arange(0))
        if self.is_classification:
            val = []
            for c in range(len(self.classes)):
                members = rng.permutation(np.flatnonzero(self.labels == c))
                val.extend(members[: int(round(len(members) * fraction))])
            val = np.sort(np.asarray(val, np.int64))
        else:
            val = np.sort(rng.permutation(len(self))[: int(round(len(self) * fraction))])
        train = np.setdiff1d(np.arange(len(self)), val)
        return self.subset(train), self.subset(val)

    def for_input(self, shape: Sequence[int]) -> Dataset:
        """This data with samples shaped for a model input (e.g. 8x8 images for a [64] input)."""
        shape = tuple(shape)
        if self.sample_shape == shape:
            return self
        if int(np.prod(self.sample_shape)) == int(np.prod(shape)):
            if len(self.sample_shape) == 3 and len(shape) == 3:
                raise DataError(t("the model's input is {input} but the samples are {samples}; set the input to "
                                  "{samples}", input=list(shape), samples=list(self.sample_shape)))
            return replace(self, x=self.x.reshape(len(self), *shape))
        raise DataError(t("the model's input is {input} but {data}'s samples are {samples}; set the input to "
                          "{samples}", input=list(shape), data=self.name, samples=list(self.sample_shape)))


def _natural(value: str) -> tuple:
    try:
        return (0, float(value), value)
    except ValueError:
        return (1, 0.0, value)


def _normalize(x: np.ndarray, kind: str | None, names: list[str]) -> tuple[np.ndarray, dict[str, Any] | None]:
    if kind is None or kind == "none":
        return x, None
    if kind == "standard":
        center, scale = x.mean(axis=0), x.std(axis=0)
    elif kind == "minmax":
        center, scale = x.min(axis=0), x.max(axis=0) - x.min(axis=0)
    else:
        raise DataError(f"normalize must be 'standard', 'minmax' or None, got {kind!r}")
    scale = np.where(scale > 0, scale, 1.0)  # a constant column stays constant instead of dividing by 0
    out = ((x - center) / scale).astype(np.float32)
    return out, {"kind": kind, "center": center.astype(float).tolist(), "scale": scale.astype(float).tolist()}


def normalize_like(x: np.ndarray, normalization: Mapping[str, Any] | None) -> np.ndarray:
    """Scale new raw inputs the way a dataset's were (`Dataset.normalization`, kept in the project
    file), so a prediction on a fresh CSV row or drawing sees what training saw."""
    x = np.asarray(x, np.float64)
    if not normalization:
        return x.astype(np.float32)
    center = np.asarray(normalization["center"], np.float64)
    scale = np.asarray(normalization["scale"], np.float64)
    return ((x - center) / scale).astype(np.float32)


# ---------------------------------------------------------------- built-in datasets

# name -> (file, description); the files are made by static/data/make_datasets.py
BUILTIN_DATASETS: dict[str, str] = {
    "digits": N_("8x8 grey images of handwritten digits 0-9 (1,797)"),
    "iris": N_("4 measurements of 150 iris flowers, 3 species"),
    "wine": N_("13 chemical measurements of 178 wines, 3 cultivars"),
    "breast_cancer": N_("30 features of 569 breast mass images, malignant or benign"),
}


def default_data_dir() -> Path:
    """Where the site's data files are: $HEARTH_DATA_DIR, else the repository's static/data."""
    env = os.environ.get("HEARTH_DATA_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "static" / "data"


def load_builtin(name: str, source: bytes | str | Path | None = None) -> Dataset:
    """A built-in dataset, from its .npz bytes (the browser fetches them) or a file/folder path."""
    if name not in BUILTIN_DATASETS:
        raise DataError(f"no built-in dataset {name!r}; choose one of {', '.join(BUILTIN_DATASETS)}")
    if source is None:
        source = default_data_dir()
    if not isinstance(source, bytes):
        path = Path(source)
        if path.is_dir():
            path = path / f"{name}.npz"
        if not path.exists():
            raise DataError(f"the {name} data file {path} is missing; run static/data/make_datasets.py")
        source = path.read_bytes()
    try:
        with np.load(io.BytesIO(source), allow_pickle=False) as npz:
            x, target = npz["data"], npz["target"]
            feature_names = [str(s) for s in npz["feature_names"]]
            classes = [str(s) for s in npz["target_names"]]
    except (ValueError, KeyError, OSError, zipfile.BadZipFile) as error:
        raise DataError(f"the {name} data file is damaged ({error}); make it again with "
                        "static/data/make_datasets.py") from None
    labels = [classes[i] for i in target]
    if name == "digits":  # pixel intensities 0..16 -> [0, 1], as 8x8 one-channel images
        images = (x.reshape(-1, 8, 8, 1) / 16.0).astype(np.float32)
        return Dataset.from_labels(images, labels, classes, name=name, feature_names=feature_names,
                                   normalization={"kind": "scale", "center": 0.0, "scale": 16.0})
    values, normalization = _normalize(x.astype(np.float64), "standard", feature_names)
    return Dataset.from_labels(values, labels, classes, name=name, feature_names=feature_names,
                               normalization=normalization)


# ---------------------------------------------------------------- CSV

# What a file is when its bytes say so, whatever its name claims: a picture renamed .csv should be
# told apart from a table with a bad line, so the message can say what to choose instead.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", N_("a PNG image")),  # shown with t()
    (b"\xff\xd8\xff", N_("a JPEG image")),
    (b"GIF87a", N_("a GIF image")),
    (b"GIF89a", N_("a GIF image")),
    (b"%PDF-", N_("a PDF document")),
    (b"PK\x03\x04", N_("a ZIP archive (an Excel .xlsx workbook is one)")),
    (b"PK\x05\x06", N_("a ZIP archive")),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", N_("an Office document (an old Excel .xls workbook?)")),
    (b"BM", N_("a BMP image")),
)


def file_kind(data: bytes) -> str | None:
    """What a file's first bytes say it is ("a PNG image"), or None for anything else (text, maybe)."""
    head = bytes(data[:16])
    for magic, kind in _MAGIC:
        if head.startswith(magic) and (magic != b"BM" or len(data) >= 26 and data[6:10] == b"\0\0\0\0"):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return N_("a WebP image")
    return None


def decode_text(data: str | bytes, what: str) -> str:
    """The text of a table file, or a DataError saying that `what` (the file's name) is not text.

    UTF-8 first (with or without a byte-order mark), UTF-16 when a byte-order mark says so (a
    spreadsheet's "Unicode text"), else Latin-1, which decodes any bytes: so a file counts as text
    only when it has no NUL bytes and hardly any control characters.
    """
    if isinstance(data, str):
        return data
    kind = file_kind(data)
    if kind is not None:
        raise DataError(t("{file} is {kind}, not a table of text; choose a CSV file (a spreadsheet program saves one "
                          "with Save as, CSV)", file=what, kind=t(kind)))
    not_text = DataError(t("{file} is not a text file; choose a CSV file (a spreadsheet program saves one with "
                           "Save as, CSV)", file=what))
    try:
        if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
            text = data.decode("utf-16")
        else:
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError:
                text = data.decode("latin-1")
    except UnicodeDecodeError:
        raise not_text from None
    start = text[:4096]
    control = sum(1 for c in start if ord(c) < 32 and c not in "\t\n\r\f\v")
    if "\0" in text or control > max(2, len(start) // 100):
        raise not_text
    return text


def _column(header: list[str], wanted: str | int, what: str) -> int:
    if isinstance(wanted, int) and not isinstance(wanted, bool):
        if -len(header) <= wanted < len(header):
            return wanted % len(header)
        raise DataError(t("there is no column {column} for the {what}; the file has {count} columns", column=wanted,
                          what=t(what), count=len(header)))
    if wanted in header:
        return header.index(wanted)
    raise DataError(t("there is no column {column} for the {what}; the columns are: {columns}", column=repr(wanted),
                      what=t(what), columns=", ".join(header)))


def load_csv(data: str | bytes, label: str | int | None = None, features: Sequence[str | int] | None = None,
             normalize: str | None = "standard", task: str = "auto", name: str = "csv",
             delimiter: str | None = None) -> Dataset:
    """A table with a header row: `label` names the target column (default: the last), `features`
    the input columns (default: all the others, which must then be numeric).

    task: "classification" (one-hot of the label's values), "regression" (numeric targets), or
    "auto": classification unless the label has non-integer numbers or more than 20 values.
    """
    text = decode_text(data, name)
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise DataError(t("{file} is empty", file=name))
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff("\n".join(lines[:20]), delimiters=",;\t").delimiter
        except csv.Error:
            delimiter = ","
    rows = list(csv.reader(lines, delimiter=delimiter))
    header = [h.strip() for h in rows[0]]
    if len(header) < 2:
        raise DataError(t("{file} has {count} column; a table needs at least one feature column and one label column, "
                          "separated by commas", file=name, count=len(header)))
    duplicates = [h for h, n in Counter(header).items() if n > 1]
    if duplicates:
        raise DataError(t("{file} has the column name {column} more than once; rename one", file=name,
                          column=repr(duplicates[0])))
    body = rows[1:]
    if not body:
        raise DataError(t("{file} has a header but no rows of data", file=name))
    for number, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise DataError(t("line {line} of {file} has {values} values but the header has {columns} columns; fix "
                              "that line (look for a missing or an extra comma)", line=number, file=name,
                              values=len(row), columns=len(header)))
    label_index = _column(header, label if label is not None else -1, N_("label"))
    if features is None:
        feature_indices = [i for i in range(len(header)) if i != label_index]
    else:
        feature_indices = [_column(header, f, N_("features")) for f in features]
        if label_index in feature_indices:
            raise DataError(t("the label column {column} is also chosen as a feature; leave it out",
                              column=repr(header[label_index])))
        if not feature_indices:
            raise DataError(t("choose at least one feature column"))
    x = np.empty((len(body), len(feature_indices)), np.float64)
    for j, col in enumerate(feature_indices):
        for i, row in enumerate(body):
            cell = row[col].strip()
            if not cell:
                raise DataError(t("column {column} is empty on line {line}; fill it in or remove the row",
                                  column=repr(header[col]), line=i + 2))
            try:
                x[i, j] = float(cell)
            except ValueError:
                raise DataError(t("column {column} is not numeric (line {line} has {cell}); use it as the label, or "
                                  "leave it out of the feature columns", column=repr(header[col]), line=i + 2,
                                  cell=repr(cell))) from None
    if not np.isfinite(x).all():
        i, j = np.argwhere(~np.isfinite(x))[0]
        raise DataError(t("column {column} has {cell} on line {line}; use finite numbers",
                          column=repr(header[feature_indices[j]]), cell=repr(body[i][feature_indices[j]]), line=i + 2))
    feature_names = [header[i] for i in feature_indices]
    raw = [row[label_index].strip() for row in body]
    empty = [i + 2 for i, v in enumerate(raw) if not v]
    if empty:
        raise DataError(t("the label column {column} is empty on line {line}; fill it in or remove the row",
                          column=repr(header[label_index]), line=empty[0]))
    numeric = all(_is_number(v) for v in raw)
    if task == "auto":
        integral = numeric and all(float(v).is_integer() for v in raw)
        task = "classification" if (not numeric or (integral and len(set(raw)) <= 20)) else "regression"
    x, normalization = _normalize(x, normalize, feature_names)
    if task == "regression":
        if not numeric:
            bad = next(v for v in raw if not _is_number(v))
            raise DataError(t("regression needs a numeric label, but {column} has {value}",
                              column=repr(header[label_index]), value=repr(bad)))
        return Dataset(x, np.asarray([[float(v)] for v in raw], np.float32), [], name=name,
                       feature_names=feature_names, normalization=normalization)
    if task != "classification":
        raise DataError(f"task must be 'classification', 'regression' or 'auto', got {task!r}")
    if numeric:  # "1" and "1.0" are one class
        raw = [str(int(float(v))) if float(v).is_integer() else v for v in raw]
    classes = sorted(set(raw), key=_natural)
    if len(classes) < 2:
        raise DataError(t("the label column {column} has only one class ({name}); a classifier needs at least two",
                          column=repr(header[label_index]), name=repr(classes[0])))
    return Dataset.from_labels(x, raw, classes, name=name, feature_names=feature_names, normalization=normalization)


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------- images

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"}


def _decode(data: bytes | np.ndarray, what: str):
    from PIL import Image, UnidentifiedImageError

    if isinstance(data, np.ndarray):
        array = data
        if array.dtype != np.uint8:
            array = np.clip(array * (255.0 if array.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
        if array.ndim == 3 and array.shape[2] == 1:
            array = array[:, :, 0]
        if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
            raise DataError(f"{what}: an image array must be (height, width) or (height, width, 1/3/4), "
                            f"got {data.shape}")
        return Image.fromarray(array)
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
        return image
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise DataError(t("{file} could not be read as an image ({error}); use PNG, JPEG, GIF, BMP or WebP", file=what,
                          error=type(error).__name__)) from None


def _to_array(image, size: tuple[int, int] | None, channels: int) -> np.ndarray:
    from PIL import Image

    image = image.convert("L" if channels == 1 else "RGB")
    if size is not None and image.size != (size[1], size[0]):
        image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    array = np.asarray(image, np.float32) / 255.0
    return array[:, :, None] if channels == 1 else array


def _files(source: Mapping[str, bytes] | bytes) -> tuple[dict[str, bytes], set[str]]:
    """Files by path, and the folders seen (to find empty classes), from a ZIP or a mapping."""
    if isinstance(source, Mapping):
        return dict(source), set()
    try:
        archive = zipfile.ZipFile(io.BytesIO(source))
    except zipfile.BadZipFile:
        raise DataError(t("the file is not a ZIP archive; zip the class folders (one folder per class)")) from None
    files, folders = {}, set()
    with archive:
        for info in archive.infolist():
            path = PurePosixPath(info.filename)
            if any(part.startswith(".") or part == "__MACOSX" for part in path.parts):
                continue
            if info.is_dir():
                folders.add(str(path))
            else:
                files[str(path)] = archive.read(info)
                folders.update(str(p) for p in path.parents if str(p) != ".")
    return files, folders


def load_images(source: Mapping[str, bytes] | bytes, size: tuple[int, int] | None = (28, 28), channels: int = 1,
                resize: bool = True, name: str = "images") -> Dataset:
    """Images labelled by their folder: `cats/1.png`, `dogs/7.jpg` (a ZIP's bytes, or path -> bytes).

    With `resize`, every image is scaled to `size` (height, width); without, all must already share
    one size (`size`, or the first image's when `size` is None) or a DataError lists the odd ones.
    """
    collection = ImageCollection(size=size if resize else None, channels=channels)
    images, skipped = _read_class_folders(source, size, channels, resize)
    collection.images = images
    dataset = collection.to_dataset(name)
    dataset.skipped = skipped
    return dataset


def _read_class_folders(source: Mapping[str, bytes] | bytes, size: tuple[int, int] | None, channels: int,
                        resize: bool) -> tuple[dict[str, list[np.ndarray]], list[str]]:
    files, folders = _files(source)
    by_class: dict[str, dict[str, bytes]] = {}
    skipped = []
    for path, data in sorted(files.items()):
        parts = PurePosixPath(path).parts
        if PurePosixPath(path).suffix.lower() not in IMAGE_EXTENSIONS:
            skipped.append(t("{path} (not an image file)", path=path))
            continue
        if len(parts) < 2:
            raise DataError(t("{path} is not in a class folder; put each class's images in a folder named after the "
                              "class (cats/1.png, dogs/2.png)", path=path))
        by_class.setdefault(parts[-2], {})[path] = data
    parents = {str(PurePosixPath(p).parent) for p in [*files, *folders]}
    empty = sorted(PurePosixPath(f).name for f in folders if f not in parents)  # folders with nothing inside
    if empty:
        raise DataError(t("the class folder {folder} has no images; add some or remove the folder",
                          folder=repr(empty[0])))
    if not by_class:
        raise DataError(t("no images found; a ZIP should hold one folder per class with PNG/JPEG images inside"))
    decoded: dict[str, list[tuple[str, Any]]] = {}
    problems = []
    for label, items in by_class.items():
        for path, data in items.items():
            try:
                decoded.setdefault(label, []).append((path, _decode(data, path)))
            except DataError as error:
                problems.append(str(error))
    if problems:
        more = " " + t("(and {count} more)", count=len(problems) - 3) if len(problems) > 3 else ""
        raise DataError("; ".join(problems[:3]) + more)
    if not resize:
        sizes = Counter(image.size for items in decoded.values() for _, image in items)
        expected = (size[1], size[0]) if size is not None else next(iter(decoded.values()))[0][1].size
        odd = [(path, image.size) for items in decoded.values() for path, image in items if image.size != expected]
        if odd:
            shown = ", ".join(t("{path} is {width}x{height}", path=p, width=w, height=h) for p, (w, h) in odd[:3])
            raise DataError(t("images differ in size ({count} sizes): expected {width}x{height} (width x height), but "
                              "{shown}; allow resizing or make them one size", count=len(sizes), width=expected[0],
                              height=expected[1], shown=shown))
        size = (expected[1], expected[0])
    arrays = {label: [_to_array(image, size, channels) for _, image in items] for label, items in decoded.items()}
    return arrays, skipped


class ImageCollection:
    """Images gathered class by class, e.g. N webcam shots per class, then turned into a Dataset.

    Every add decodes and checks first and only then stores, so a bad file or frame leaves what was
    collected as it was.
    """

    def __init__(self, size: tuple[int, int] | None = (28, 28), channels: int = 1) -> None:
        if channels not in (1, 3):
            raise DataError(f"channels must be 1 (grey) or 3 (colour), got {channels!r}")
        self.size = size
        self.channels = channels
        self.images: dict[str, list[np.ndarray]] = {}

    def add_class(self, label: str) -> None:
        label = str(label).strip()
        if not label:
            raise DataError(t("a class needs a name"))
        self.images.setdefault(label, [])

    def remove_class(self, label: str) -> None:
        self.images.pop(label, None)

    def add(self, label: str, image: bytes | np.ndarray) -> None:
        """One image: file bytes, or a frame as an array (webcam RGBA, or greyscale)."""
        array = _to_array(_decode(image, t("the image for {name}", name=repr(label))), self.size, self.channels)
        self._check_size(array, label)
        self.add_class(label)
        self.images[str(label).strip()].append(array)

    def add_files(self, source: Mapping[str, bytes] | bytes) -> None:
        """Class folders from a ZIP or a path -> bytes mapping, all or nothing."""
        images, _ = _read_class_folders(source, self.size, self.channels, resize=self.size is not None)
        for label, arrays in images.items():
            self._check_size(arrays[0], label)
        for label, arrays in images.items():
            self.add_class(label)
            self.images[label].extend(arrays)

    def _check_size(self, array: np.ndarray, label: str) -> None:
        first = next((imgs[0] for imgs in self.images.values() if imgs), None)
        if first is not None and first.shape != array.shape:
            raise DataError(t("the image for {name} is {width}x{height} but the collected ones are {first_width}x"
                              "{first_height}; allow resizing or use images of one size", name=repr(label),
                              width=array.shape[1], height=array.shape[0], first_width=first.shape[1],
                              first_height=first.shape[0]))

    def counts(self) -> dict[str, int]:
        return {label: len(images) for label, images in self.images.items()}

    def to_dataset(self, name: str = "images") -> Dataset:
        empty = [label for label, images in self.images.items() if not images]
        if empty:
            raise DataError(t("the class {name} has no images; add some or remove the class", name=repr(empty[0])))
        if len(self.images) < 2:
            raise DataError(t("there is 1 class(es); a classifier needs at least two") if len(self.images) == 1 else
                            t("there are {count} class(es); a classifier needs at least two", count=len(self.images)))
        classes = list(self.images)
        x = np.stack([img for label in classes for img in self.images[label]])
        labels = [label for label in classes for _ in self.images[label]]
        return Dataset.from_labels(x, labels, classes, name=name)
