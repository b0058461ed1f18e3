"""The start-up plan: which packages load at start, in one bundle or through Pyodide, and which later."""

import gzip
import json
import struct
import zipfile

from sitebuild import pywheels


def test_bundle_holds_exactly_the_boot_wheels(dist):
    pyodide = dist / "pyodide"
    plan = json.loads((pyodide / pywheels.BOOT_PLAN).read_text())
    lock = json.loads((pyodide / "pyodide-lock.json").read_text())["packages"]
    # Every shipped package is loaded exactly once: bundled, through Pyodide, or later.
    assert sorted(plan["bundled"] + plan["load"] + plan["later"]) == sorted(lock)
    assert {"hearth", "panel", "bokeh", "param"} <= set(plan["bundled"])
    assert "numpy" in plan["bundled"] and "pandas" in plan["later"]
    raw = gzip.decompress((pyodide / plan["bundle"]).read_bytes())
    (length,) = struct.unpack("<I", raw[:4])
    header = json.loads(raw[4:4 + length])
    assert header["packages"] == plan["bundled"]
    offset, files = 4 + length, {}
    for path, size in header["files"]:
        files[path] = raw[offset:offset + size]
        offset += size
    assert offset == len(raw)
    expected = {}
    for name in plan["bundled"]:
        with zipfile.ZipFile(pyodide / lock[name]["file_name"]) as zf:
            expected.update({i.filename: zf.read(i) for i in zf.infolist() if not i.is_dir()})
    assert files == expected
    # Libraries travel as bytecode; Hearth keeps its sources for readable tracebacks.
    assert "panel/__init__.pyc" in files and "panel/__init__.py" not in files
    assert "hearth/__init__.py" in files and "hearth/__pycache__/__init__.cpython-312.pyc" in files
