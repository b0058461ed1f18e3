"""The Data page: built-in data, CSV tables, ZIPs of images; bad files explained, good data kept."""

import io
import zipfile
from html import unescape

import numpy as np
from PIL import Image

from hearth.train.data import load_builtin
from tests.app.conftest import run


def csv_bytes(rows: int = 30) -> bytes:
    rng = np.random.default_rng(0)
    lines = ["length,width,kind"]
    for i in range(rows):
        kind = ["small", "large"][i % 2]
        lines.append(f"{rng.normal(1 + 2 * (i % 2)):.3f},{rng.normal(5):.3f},{kind}")
    return ("\n".join(lines) + "\n").encode()


def zip_of_images() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for label, value in (("dark", 30), ("light", 220)):
            for i in range(4):
                picture = io.BytesIO()
                Image.new("L", (12, 10), value + i).save(picture, format="PNG")
                archive.writestr(f"{label}/{i}.png", picture.getvalue())
        archive.writestr("notes.txt", b"not a picture")
    return buffer.getvalue()


def test_built_in_datasets_load_and_show(app):
    assert app.state.dataset.name == "digits" and len(app.state.dataset) == 1797
    assert "1,797 samples of 8×8 grey images, 10 classes" in app.data.summary.object
    assert app.data.counts.object.count('role="listitem"') == 10
    assert app.data.samples.object.count("<img") == 20
    assert app.data.preview.object.count("<tr>") == 1 + 8
    app.data.builtin.value = "wine"
    app.data.builtin_button.clicks += 1
    wine = load_builtin("wine")
    assert app.state.dataset.name == "wine"
    np.testing.assert_array_equal(app.state.dataset.x, wine.x)
    assert app.state.data_source == {"kind": "builtin", "name": "wine"}
    assert "alcohol" in app.data.preview.object and "(not images)" in app.data.samples.object


def test_csv_columns_are_offered_and_the_table_loads(app):
    app.data.source.value = "CSV table"
    assert app.data.csv_file in app.data.source_area.objects
    app.data.csv_file.param.update(value=csv_bytes(), filename="plants.csv")
    assert app.data.csv_label.options == ["length", "width", "kind"] and app.data.csv_label.value == "kind"
    app.data.csv_button.clicks += 1
    data = app.state.dataset
    assert data.name == "plants" and data.classes == ["large", "small"] and data.x.shape == (30, 2)
    np.testing.assert_allclose(data.x.mean(axis=0), 0, atol=1e-6)  # standardised
    assert app.state.data_source["label"] == "kind"
    assert app.state.spec.input_shape == (2,) and app.state.spec.output_shape == (2,)


def test_a_bad_csv_is_explained_and_loses_nothing(app):
    before = app.state.dataset
    app.data.csv_file.param.update(value=b"a,b,label\n1,2,x\n3,oops,y\n", filename="bad.csv")
    app.data.use_csv()
    assert app.state.dataset is before
    message = unescape(app.data.message.object)
    assert "column 'b' is not numeric (line 3 has 'oops')" in message and 'role="alert"' in message
    assert "The data you had (digits) is still loaded." in message
    app.data.csv_file.param.update(value=b"\xff\xfe\x00", filename="binary.csv")
    assert "no header row" in app.data.message.object or "column" in app.data.message.object
    assert app.state.dataset is before


def test_zip_of_class_folders(app):
    app.data.zip_file.param.update(value=zip_of_images(), filename="shades.zip")
    app.data.image_height.value, app.data.image_width.value = 6, 8
    app.data.zip_button.clicks += 1
    data = app.state.dataset
    assert data.classes == ["dark", "light"] and data.x.shape == (8, 6, 8, 1)
    assert "notes.txt" in app.data.summary.object  # what was left out is said
    assert app.state.spec.input_shape == (6, 8, 1)
    before = app.state.dataset
    app.data.zip_file.param.update(value=b"not a zip", filename="x.zip")
    app.data.use_zip()
    assert "not a ZIP archive" in app.data.message.object and app.state.dataset is before


def test_webcam_classes_need_names_and_shots(app):
    app.data.class_name.value = "  "
    app.data.add_class()
    assert "a class needs a name" in app.data.message.object
    app.data.class_name.value = "thumbs up"
    app.data.add_class()
    assert app.data.shot_class.value == "thumbs up" and app.data.class_name.value == ""
    before = app.state.dataset
    app.data.use_shots()  # no shots yet
    assert "has no images" in app.data.message.object and app.state.dataset is before


def test_builtin_names_are_checked(app):
    run(app.data.use_builtin("nope"))
    assert "no built-in dataset 'nope'; choose one of digits, iris" in unescape(app.data.message.object)
    assert app.state.dataset.name == "digits"
