"""Loading data as a teacher would hand it over: built-ins, CSV text, image folders and ZIPs, webcam
frames; and the messages for files that cannot be used (which must leave loaded data alone)."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hearth.train import DataError, ImageCollection, load_builtin, load_csv, load_images
from hearth.train.data import BUILTIN_DATASETS, default_data_dir

DATA_DIR = Path(__file__).resolve().parents[2] / "static" / "data"


def png(width: int, height: int, value: int = 128, mode: str = "L") -> bytes:
    buffer = io.BytesIO()
    color = value if mode == "L" else (value, 255 - value, 0)
    Image.new(mode, (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


def zip_of(files: dict[str, bytes], folders: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for folder in folders:
            archive.writestr(folder.rstrip("/") + "/", b"")
        for path, data in files.items():
            archive.writestr(path, data)
    return buffer.getvalue()


# ---------------------------------------------------------------- built-ins

def test_shipped_files_match_their_pinned_checksums():
    sums = dict(line.split()[::-1] for line in (DATA_DIR / "SHA256SUMS").read_text().splitlines())
    assert set(sums) == {f"{name}.npz" for name in BUILTIN_DATASETS}
    for name, digest in sums.items():
        assert hashlib.sha256((DATA_DIR / name).read_bytes()).hexdigest() == digest


@pytest.mark.parametrize("name, n, shape, classes", [
    ("digits", 1797, (8, 8, 1), 10), ("iris", 150, (4,), 3), ("wine", 178, (13,), 3),
    ("breast_cancer", 569, (30,), 2)])
def test_builtin_datasets(name, n, shape, classes):
    data = load_builtin(name)
    assert (len(data), data.sample_shape, len(data.classes)) == (n, shape, classes)
    assert np.array_equal(data.y.sum(axis=1), np.ones(n))
    if name == "digits":
        assert data.x.min() == 0 and data.x.max() == 1
    else:  # standardised per feature
        np.testing.assert_allclose(data.x.mean(axis=0), 0, atol=1e-5)
        np.testing.assert_allclose(data.x.std(axis=0), 1, atol=1e-4)
    from_bytes = load_builtin(name, (default_data_dir() / f"{name}.npz").read_bytes())  # as the browser hands it
    assert np.array_equal(from_bytes.x, data.x) and from_bytes.classes == data.classes


def test_builtin_errors():
    with pytest.raises(DataError, match="no built-in dataset 'mnist'"):
        load_builtin("mnist")
    with pytest.raises(DataError, match="damaged"):
        load_builtin("iris", b"not an npz file")


# ---------------------------------------------------------------- CSV

FLOWERS = """length;width;colour;species
5.1;3.5;red;setosa
4.9;3.0;red;setosa
6.3;3.3;blue;virginica
5.8;2.7;blue;virginica
7.0;3.2;red;versicolor
6.4;3.2;blue;versicolor
"""


def test_csv_with_column_choice_one_hot_and_normalisation():
    data = load_csv(FLOWERS.encode(), label="species", features=["width", "length"], name="flowers")
    assert data.classes == ["setosa", "versicolor", "virginica"]
    assert data.feature_names == ["width", "length"]
    assert data.y.tolist()[0] == [1, 0, 0] and data.y.tolist()[4] == [0, 1, 0]
    raw = np.array([[3.5, 5.1], [3.0, 4.9], [3.3, 6.3], [2.7, 5.8], [3.2, 7.0], [3.2, 6.4]])
    np.testing.assert_allclose(data.x, (raw - raw.mean(0)) / raw.std(0), rtol=1e-5)
    assert data.normalization["kind"] == "standard"
    np.testing.assert_allclose(data.normalization["center"], raw.mean(0))
    minmax = load_csv(FLOWERS, label=3, features=[0], normalize="minmax")
    assert minmax.x.min() == 0 and minmax.x.max() == 1
    raw_values = load_csv(FLOWERS, label="species", features=["length"], normalize=None)
    assert raw_values.x[:, 0].tolist() == pytest.approx([5.1, 4.9, 6.3, 5.8, 7.0, 6.4])


def test_new_rows_are_scaled_like_the_training_data():
    from hearth.train.data import normalize_like

    data = load_csv(FLOWERS, label="species", features=["length", "width"])
    raw = np.array([[5.1, 3.5], [7.0, 3.2]])
    np.testing.assert_allclose(normalize_like(raw, data.normalization), data.x[[0, 4]], rtol=1e-5, atol=1e-6)
    digits = load_builtin("digits")
    np.testing.assert_array_equal(normalize_like(np.full((1, 8, 8, 1), 16.0), digits.normalization), 1.0)


def test_csv_numeric_labels_and_regression():
    text = "a,b,y\n" + "\n".join(f"{i},{i * 2},{i % 3}" for i in range(12))
    data = load_csv(text)
    assert data.classes == ["0", "1", "2"]
    text = "a,y\n" + "\n".join(f"{i},{i * 0.37:.2f}" for i in range(30))
    reg = load_csv(text, normalize=None)
    assert reg.classes == [] and reg.y[5, 0] == pytest.approx(1.85)


@pytest.mark.parametrize("text, kwargs, message", [
    ("", {}, "empty"),
    ("a,b,c\n", {}, "header but no rows"),
    ("a,b,c\n1,2,x\n1,2\n", {}, "line 3 of csv has 2 values but the header has 3 columns"),
    (FLOWERS, {"label": "species"}, "column 'colour' is not numeric \\(line 2 has 'red'\\)"),
    (FLOWERS, {"label": "kind"}, "no column 'kind' for the label; the columns are: length, width, colour, species"),
    (FLOWERS, {"label": "species", "features": ["length", "species"]}, "also chosen as a feature"),
    ("a,b\n1,x\n,y\n", {}, "column 'a' is empty on line 3"),
    ("a,b\n1,x\n2,x\n", {}, "only one class \\('x'\\)"),
    ("a,b\n1,x\n2,\n", {}, "label column 'b' is empty on line 3"),
    ("a,a,b\n1,2,x\n", {}, "column name 'a' more than once"),
    ("abc\n1\n", {}, "needs at least one feature column"),
    ("a,b\n1,x\n2,y\n", {"task": "regression"}, "regression needs a numeric label"),
    ("a,b\nnan,x\n2,y\n", {}, "use finite numbers"),
])
def test_csv_problems_get_a_clear_message(text, kwargs, message):
    with pytest.raises(DataError, match=message):
        load_csv(text, **kwargs)


# ---------------------------------------------------------------- images

def test_images_from_a_zip_resized_with_labels_from_folders():
    archive = zip_of({"pets/cats/a.png": png(10, 12, 200), "pets/cats/b.png": png(30, 20, 100, "RGB"),
                      "pets/dogs/c.png": png(28, 28, 0), "pets/readme.txt": b"hi", "__MACOSX/pets/._a.png": b"x"})
    data = load_images(archive, size=(16, 16), channels=1)
    assert data.classes == ["cats", "dogs"] and data.x.shape == (3, 16, 16, 1)
    assert data.class_counts() == {"cats": 2, "dogs": 1}
    np.testing.assert_allclose(data.x[0], 200 / 255, atol=1 / 255)
    assert data.skipped == ["pets/readme.txt (not an image file)"]
    colour = load_images(archive, size=(8, 9), channels=3)
    assert colour.x.shape == (3, 8, 9, 3)


def test_images_from_a_mapping_as_a_browser_file_picker_gives_them():
    data = load_images({"a/1.png": png(4, 4), "b/2.png": png(4, 4, 9)}, size=None, resize=False)
    assert data.x.shape == (2, 4, 4, 1)


@pytest.mark.parametrize("source, kwargs, message", [
    ({"a/1.png": png(4, 4), "b/2.png": png(5, 4), "b/3.png": png(4, 4)}, {"resize": False, "size": None},
     "images differ in size.*b/2.png is 5x4"),
    (zip_of({"a/1.png": png(4, 4), "b/2.png": png(4, 4)}, folders=("c/",)), {}, "class folder 'c' has no images"),
    ({"1.png": png(4, 4), "b/2.png": png(4, 4)}, {}, "1.png is not in a class folder"),
    ({"a/1.png": b"not really a png", "b/2.png": png(4, 4)}, {}, "a/1.png could not be read as an image"),
    ({"a/1.png": png(4, 4), "a/2.png": png(4, 4)}, {}, "1 class\\(es\\); a classifier needs at least two"),
    ({"a/notes.txt": b"x"}, {}, "no images found"),
    (b"PK not a zip", {}, "not a ZIP archive"),
])
def test_image_problems_get_a_clear_message(source, kwargs, message):
    with pytest.raises(DataError, match=message):
        load_images(source, **kwargs)


def test_collection_keeps_what_it_has_when_an_add_fails():
    shots = ImageCollection(size=(8, 8), channels=1)
    frame = np.zeros((48, 64, 4), np.uint8)  # a webcam frame: RGBA
    frame[..., 0] = 255
    for _ in range(3):
        shots.add("left", frame)
    shots.add("right", png(20, 20, 50))
    before = {k: [a.copy() for a in v] for k, v in shots.images.items()}
    with pytest.raises(DataError, match="could not be read as an image"):
        shots.add("right", b"garbage")
    with pytest.raises(DataError, match="could not be read"):
        shots.add_files({"up/1.png": png(4, 4), "up/2.png": b"broken"})
    with pytest.raises(DataError, match="has no images"):
        shots.add_class("empty")
        shots.to_dataset()
    shots.remove_class("empty")
    assert shots.counts() == {"left": 3, "right": 1}
    assert all(np.array_equal(a, b) for k in before for a, b in zip(before[k], shots.images[k], strict=True))
    shots.add_files({"up/1.png": png(4, 4)})
    data = shots.to_dataset("webcam")
    assert data.classes == ["left", "right", "up"] and data.x.shape == (5, 8, 8, 1)
    np.testing.assert_allclose(data.x[0].mean(), 0.299, atol=0.01)  # pure red in greyscale (ITU-R 601 luma)


def test_collection_without_resizing_refuses_a_different_size():
    shots = ImageCollection(size=None)
    shots.add("a", png(6, 6))
    with pytest.raises(DataError, match="is 7x6 but the collected ones are 6x6"):
        shots.add("b", png(7, 6))
    assert shots.counts() == {"a": 1}
