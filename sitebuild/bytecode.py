"""Ship Python bytecode: every wheel and the stdlib zip get .pyc files, made by Pyodide itself.

Pyodide compiles each module from source on every start (its in-memory file system forgets any
__pycache__ between page loads); for Panel, Bokeh and the stdlib that is a large part of start-up.
The .pyc files are unchecked-hash pycs (PEP 552) from the shipped interpreter (node + the npm
Pyodide), so they are valid whatever dates the files get when unpacked.
Libraries and the stdlib ship bytecode only (fewer files to unpack or index, less to download; their
tracebacks lose the source lines); Hearth keeps its sources. Results are cached by input hash in
~/.cache/hearth/pyc/.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from sitebuild import artifacts

COMPILER = Path(__file__).with_name("pycompile.mjs")


def _key(path: Path, pyodide_dir: Path, kind: str) -> str:
    parts = [artifacts.sha256_of(path), artifacts.sha256_of(COMPILER),
             artifacts.sha256_of(pyodide_dir / "pyodide.asm.wasm"), kind]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def compile_in_place(files: list[tuple[Path, str]], pyodide_dir: Path, log=print) -> None:
    """Replace each (path, kind) file, kind "wheel" or "stdlib", by its copy with bytecode.

    HEARTH_BYTECODE=0 leaves the files as they are (to compare start-up with and without).
    """
    if os.environ.get("HEARTH_BYTECODE") == "0":
        return
    jobs, done = [], []
    for path, kind in files:
        cached = artifacts.CACHE / "pyc" / _key(path, pyodide_dir, kind) / path.name
        if cached.is_file():
            done.append((cached, path))
        else:
            jobs.append({"src": str(path), "dst": str(cached), "kind": kind})
            done.append((cached, path))
    if jobs:
        for job in jobs:
            Path(job["dst"]).parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", suffix=".json") as spec:
            json.dump(jobs, spec)
            spec.flush()
            result = subprocess.run(["node", str(COMPILER), str(pyodide_dir), spec.name],
                                    capture_output=True, text=True)
        if result.returncode != 0:
            for job in jobs:
                Path(job["dst"]).unlink(missing_ok=True)
            raise RuntimeError(f"compiling Python to bytecode failed:\n{result.stderr[-4000:]}")
    for cached, path in done:
        shutil.copy2(cached, path)
    log(f"  bytecode for {len(files)} archives ({len(jobs)} compiled now, the rest cached)")
