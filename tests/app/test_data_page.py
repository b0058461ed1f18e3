"""The Data page: built-in data, CSV tables, ZIPs of images; bad files explained, good data kept."""

import io
import re
import zipfile
from html import unescape

import numpy as np
import pytest
from PIL import Image

from hearth.train.data import DataError, decode_text, file_kind, load_builtin
from tests.app.conftest import run

MALFORMED = b"a,b,label\n1,2,x\n3,4,5,y\n5,6,x\n"  # line 3 has an extra value


def said(pane) -> str:
    """The text a message pane shows, as a reader sees it."""
    return unescape(re.sub(r"<[^>]+>", "", pane.object or ""))


def png_bytes() -> bytes:
    picture = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(picture, format="PNG")
    return picture.getvalue()


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
    assert app.data.csv_file in app.data.source_area.objects and app.data.csv_features in app.data.source_area.objects
    app.data.csv_file.param.update(value=csv_bytes(), filename="plants.csv")
    assert app.data.csv_label.options == ["length", "width", "kind"] and app.data.csv_label.value == "kind"
    assert app.data.csv_features.options == app.data.csv_features.value == ["length", "width"]
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
    assert 'role="alert"' in app.data.message.object
    assert said(app.data.message) == ("Column 'b' is not numeric (line 3 has 'oops'); use it as the label, or leave "
                                      "it out of the feature columns. The data you had (digits) is still loaded.")
    app.data.csv_file.param.update(value=b"\xff\xfe\x00", filename="binary.csv")
    assert said(app.data.message) == ("binary.csv is not a text file; choose a CSV file (a spreadsheet program saves "
                                      "one with Save as, CSV).")
    assert app.state.dataset is before


def test_a_text_column_can_be_left_out_of_the_features(app):
    table = b"size,colour,weight,kind\n" + b"".join(
        f"{i},{'red' if i % 2 else 'blue'},{i * 1.5},{'a' if i % 3 else 'b'}\n".encode() for i in range(12))
    app.data.csv_file.param.update(value=table, filename="fruit.csv")
    assert app.data.csv_features.options == ["size", "colour", "weight"]
    assert app.data.csv_features.value == ["size", "colour", "weight"]
    before = app.state.dataset
    app.data.use_csv()
    assert app.state.dataset is before
    assert said(app.data.message) == ("Column 'colour' is not numeric (line 2 has 'blue'); use it as the label, or "
                                      "leave it out of the feature columns. The data you had (digits) is still loaded.")
    app.data.csv_features.value = ["size", "weight"]  # the advice, carried out on the page
    app.data.csv_label.value = "weight"  # a new label keeps colour left out, and offers kind
    assert app.data.csv_features.options == ["size", "colour", "kind"]
    assert app.data.csv_features.value == ["size", "kind"]
    app.data.csv_label.value = "kind"
    assert app.data.csv_features.value == ["size", "weight"]
    app.data.use_csv()
    data = app.state.dataset
    assert said(app.data.message) == "Loaded fruit: 12 rows, 2 features (colour left out)."
    assert data.name == "fruit" and data.feature_names == ["size", "weight"] and data.classes == ["a", "b"]
    assert app.state.data_source["features"] == ["size", "weight"]
    app.data.csv_features.value = []
    app.data.use_csv()
    assert said(app.data.message) == "Choose at least one feature column. The data you had (fruit) is still loaded."
    assert app.state.dataset is data


def test_the_chosen_file_is_named_whichever_order_its_name_and_bytes_arrive(app):
    data = app.data
    data.csv_file.param.update(value=MALFORMED, filename="malformed.csv")
    named = "malformed.csv has the columns a, b, label. Choose the label column, then press Use this table."
    assert said(data.message) == named
    before = app.state.dataset
    data.use_csv()
    assert said(data.message) == ("Line 3 of malformed.csv has 4 values but the header has 3 columns; fix that line "
                                  "(look for a missing or an extra comma). The data you had (digits) is still loaded.")
    assert app.state.dataset is before

    # the browser sends the bytes first, then the name: never the previous file's name in between
    data.csv_file.value = png_bytes()
    assert said(data.message) == ("The file you chose is a PNG image, not a table of text; choose a CSV file (a "
                                  "spreadsheet program saves one with Save as, CSV).")
    data.csv_file.filename = "picture.csv"
    not_text = ("picture.csv is a PNG image, not a table of text; choose a CSV file (a spreadsheet program saves one "
                "with Save as, CSV).")
    assert said(data.message) == not_text
    assert data.csv_label.options == [] and data.csv_features.options == []
    data.use_csv()
    assert said(data.message) == not_text + " The data you had (digits) is still loaded."
    assert app.state.dataset is before

    # the name first, then the bytes
    data.csv_file.filename = "malformed.csv"
    data.csv_file.value = MALFORMED
    assert said(data.message) == named
    # the same name again (no new name arrives): the file is not named rather than perhaps misnamed
    data.csv_file.value = b"x,y\n1,a\n2,b\n"
    assert said(data.message) == ("The file you chose has the columns x, y. Choose the label column, then press "
                                  "Use this table.")


@pytest.mark.parametrize("content, kind", [
    (png_bytes(), "a PNG image"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "a JPEG image"),
    (b"GIF89a\x01\x00", "a GIF image"),
    (b"%PDF-1.7\n", "a PDF document"),
    (b"PK\x03\x04\x14\x00", "a ZIP archive (an Excel .xlsx workbook is one)"),
    (b"BMI,age\n22.5,30\n", None),  # starts like a BMP, but is a table
    (b"a,b\n1,2\n", None),
])
def test_file_kinds_come_from_the_bytes_not_the_name(content, kind):
    assert file_kind(content) == kind


def test_text_is_told_apart_from_other_bytes():
    assert decode_text("a,b\n".encode("utf-8-sig"), "t.csv") == "a,b\n"
    assert decode_text("é,b\n".encode("latin-1"), "t.csv") == "é,b\n"  # an older spreadsheet's export
    assert decode_text("a\tb\n".encode("utf-16"), "t.txt") == "a\tb\n"  # "Unicode text"
    for content in (b"a,b\n\x00\x01\x02", bytes(range(1, 32)) * 4):
        with pytest.raises(DataError, match="^t.csv is not a text file; choose a CSV file"):
            decode_text(content, "t.csv")


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
    assert said(app.data.message) == ("No built-in dataset 'nope'; choose one of digits, iris, wine, breast_cancer. "
                                      "The data you had (digits) is still loaded.")
    assert app.state.dataset.name == "digits"
