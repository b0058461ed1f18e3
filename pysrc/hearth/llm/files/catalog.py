"""Language models a visitor can download into the browser's model store, pinned file by file.

Each entry is one ONNX export in the onnx-community layout (config.json, generation_config.json,
tokenizer.json, tokenizer_config.json, onnx/<file>.onnx) at a fixed revision of its Hub repository.
The store (web/model-store.js) checks every downloaded file against its pinned size and sha256; where
a pin is missing it learns the size from the server and checks the sha256 the Hub sends for large
(LFS) files as `X-Linked-ETag`. The Models page says which of the two a model got.

What is verified here, honestly: Hugging Face cannot be reached from where this was written, so the
Llama-3.2-1B-Instruct entries pin the repository's file *names* (its public onnx-community layout:
`onnx/model_q4.onnx`, `onnx/model_q4f16.onnx`, each a single file) but not yet its commit, sizes or
sha256. `python models/pin_catalog.py` fills those in from the Hub API for someone with access;
until then downloads are checked against the Hub's own ETag (weights) and size (small files).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from hearth.i18n import N_

HUB_URL = "https://huggingface.co"


@dataclass(frozen=True)
class CatalogFile:
    path: str
    size: int | None = None  # None: not pinned yet (the server's Content-Length is used)
    sha256: str | None = None  # None: not pinned yet (the Hub's X-Linked-ETag is checked when it sends one)

    def manifest(self) -> dict:
        return {"path": self.path, "size": self.size or 0, "sha256": self.sha256}


@dataclass(frozen=True)
class CatalogModel:
    """One downloadable model: where it comes from, what to fetch, and where it runs well."""

    id: str  # its name in the model store (no "/": the store keeps one folder per model)
    label: str
    repo: str
    revision: str
    onnx: str  # the ONNX file the model runs from
    backends: tuple[str, ...]  # "wasm", "webgpu": where this export runs well, best first
    approx_bytes: int  # what the download weighs, shown before the exact sizes are known
    files: tuple[CatalogFile, ...]
    license: str = ""
    note: str = ""  # N_-marked where written, shown with t()
    hub: str = field(default=HUB_URL, compare=False)

    @property
    def base_url(self) -> str:
        return f"{self.hub.rstrip('/')}/{self.repo}/resolve/{self.revision}"

    @property
    def pinned(self) -> bool:
        """Every file pinned by size and sha256 (and the revision by commit)."""
        return all(f.size and f.sha256 for f in self.files) and len(self.revision) == 40

    @property
    def size(self) -> int:
        """The exact size when every file is pinned, else the approximate one."""
        return sum(f.size or 0 for f in self.files) if all(f.size for f in self.files) else self.approx_bytes

    def manifest(self) -> list[dict]:
        """The files as web/model-store.js `download()` takes them."""
        return [f.manifest() for f in self.files]

    def verification(self) -> str:
        """How the files are checked, in English (N_-marked: the Models page shows it with t())."""
        if self.pinned:
            return N_("every file checked against its pinned size and sha256")
        return N_("not pinned yet: weights checked against the sha256 the server sends (Hugging Face's ETag), "
                  "small files by size")

    def info(self) -> dict:
        """What the store records about a finished download (web/model-store.js writeInfo)."""
        return {"id": self.id, "label": self.label, "source": "downloaded", "repo": self.repo,
                "revision": self.revision, "onnx": self.onnx, "backends": list(self.backends),
                "verified": self.verification(), "complete": True, "float16": self.onnx.endswith("f16.onnx")}


# Pins read from the Hub API by models/pin_catalog.py: {repo: {"revision": commit, "files": {path: [size, sha256]}}}.
# Empty until someone with access to huggingface.co runs it (see the module docstring).
# --- pins (written by models/pin_catalog.py) ---
PINS: dict[str, dict] = {}
# --- end of pins ---


def _onnx_community(repo: str, onnx: str) -> tuple[CatalogFile, ...]:
    pinned = PINS.get(repo, {}).get("files", {})
    return tuple(CatalogFile(path, *pinned.get(path, (None, None)))
                 for path in ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", onnx))


LLAMA_REPO = "onnx-community/Llama-3.2-1B-Instruct"
LLAMA_REVISION = PINS.get(LLAMA_REPO, {}).get("revision", "main")  # "main" until pinned
LLAMA_LICENSE = "Llama 3.2 Community License"

CATALOG: list[CatalogModel] = [
    CatalogModel(
        id="llama-3.2-1b-instruct-q4", label="Llama-3.2-1B-Instruct, 4-bit (q4)", repo=LLAMA_REPO,
        revision=LLAMA_REVISION, onnx="onnx/model_q4.onnx", backends=("wasm", "webgpu"), approx_bytes=1_100_000_000,
        files=_onnx_community(LLAMA_REPO, "onnx/model_q4.onnx"), license=LLAMA_LICENSE,
        note=N_("4-bit weights, float32 activations: runs on any browser (WebAssembly), and on WebGPU.")),
    CatalogModel(
        id="llama-3.2-1b-instruct-q4f16", label="Llama-3.2-1B-Instruct, 4-bit + float16 (q4f16)", repo=LLAMA_REPO,
        revision=LLAMA_REVISION, onnx="onnx/model_q4f16.onnx", backends=("webgpu",), approx_bytes=1_000_000_000,
        files=_onnx_community(LLAMA_REPO, "onnx/model_q4f16.onnx"), license=LLAMA_LICENSE,
        note=N_("4-bit weights, float16 activations and cache: for WebGPU (a graphics card); slow or unsupported "
                "on WebAssembly.")),
]


def entries() -> list[CatalogModel]:
    return list(CATALOG)


def find(model_id: str) -> CatalogModel | None:
    return next((m for m in CATALOG if m.id == model_id), None)


def add(model: CatalogModel) -> None:
    """Add (or replace, by id) an entry: a deployment's own models, or a local mirror in tests."""
    CATALOG[:] = [m for m in CATALOG if m.id != model.id] + [model]


def use_hub(url: str) -> None:
    """Download from a mirror with the Hub's URL layout (`<hub>/<repo>/resolve/<revision>/<path>`)."""
    global HUB_URL
    HUB_URL = url
    CATALOG[:] = [replace(m, hub=url) for m in CATALOG]
