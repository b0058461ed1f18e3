"""Which files of a folder (or a handful of files) the user picked make a language model.

A side-loaded model is often a whole `git clone` of a Hub repository: every ONNX variant (fp32,
fp16, q4, q4f16, ...; 10 GB and more), READMEs, .git. Only the config, the tokenizer and one ONNX
file (with its `.onnx_data`, if any) are needed, so this finds them and the model is copied into the
store in the same layout a download has. Pure Python, so it is tested on CPython.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath

from hearth.i18n import t
from hearth.llm.files.model_dir import ONNX_PREFERENCE

REQUIRED = ("config.json", "tokenizer.json", "tokenizer_config.json")
OPTIONAL = ("generation_config.json", "chat_template.jinja")
# An export for WebGPU first when the browser has it (float16 halves the memory traffic).
WEBGPU_PREFERENCE = ("model_q4f16.onnx", "model_fp16.onnx")


class FolderError(ValueError):
    """The picked files are not a language model Hearth can run; the message says what is missing."""


@dataclass
class PickedModel:
    """A picked folder read as a model: its root in the picked paths, and its ONNX files by size."""

    root: str  # "" or "Some-Folder/" etc.: the prefix of config.json among the picked paths
    files: dict[str, str] = field(default_factory=dict)  # path in the model -> picked path
    onnx: dict[str, int] = field(default_factory=dict)  # "onnx/model_q4.onnx" -> bytes (with its .onnx_data)
    name: str = ""

    def default_onnx(self, providers: list[str]) -> str:
        order = (WEBGPU_PREFERENCE if "webgpu" in providers else ()) + ONNX_PREFERENCE
        for name in order:
            if f"onnx/{name}" in self.onnx:
                return f"onnx/{name}"
        return min(self.onnx, key=self.onnx.get)  # an unusual name: the smallest export

    def wanted(self, onnx: str) -> dict[str, str]:
        """The files to copy for `onnx`: path in the store -> picked path."""
        if onnx not in self.onnx:
            raise FolderError(f"the folder has no {onnx}")
        keep = [*REQUIRED, *OPTIONAL, onnx, onnx + "_data"]
        return {path: self.files[path] for path in keep if path in self.files}

    def size(self, onnx: str) -> int:
        return sum(self._sizes[src] for src in self.wanted(onnx).values())

    _sizes: dict[str, int] = field(default_factory=dict, repr=False)


def _model_path(path: str, from_folder: bool) -> str:
    parts = PurePosixPath(path).parts
    if not from_folder and len(parts) == 1 and path.endswith((".onnx", ".onnx_data")):
        return f"onnx/{path}"  # single files picked: weights go where a download puts them
    return path


def read_picked(paths: list[str], sizes: list[int]) -> PickedModel:
    """Make sense of picked paths (a folder: "Folder/onnx/model.onnx"; files: "model.onnx")."""
    if not paths:
        raise FolderError(t("No files were picked. Pick the model's folder (with config.json, tokenizer.json, "
                            "tokenizer_config.json and onnx/*.onnx)."))
    from_folder = any("/" in p for p in paths)
    configs = sorted((p for p in paths if PurePosixPath(p).name == "config.json"), key=lambda p: p.count("/"))
    if not configs:
        raise FolderError(t("The picked files have no config.json, so they are not a language model folder. Pick the "
                            "folder that holds config.json, tokenizer.json, tokenizer_config.json and onnx/*.onnx."))
    root = configs[0][: -len("config.json")]
    picked = PickedModel(root=root, name=PurePosixPath(root).name if root else "")
    if not picked.name and from_folder:
        picked.name = PurePosixPath(paths[0]).parts[0]
    for path, size in zip(paths, sizes, strict=True):
        if not path.startswith(root) or "/.git/" in f"/{path}":
            continue
        inside = _model_path(path[len(root):], from_folder)
        picked.files[inside] = path
        picked._sizes[path] = size
    missing = [name for name in REQUIRED if name not in picked.files]
    if missing:
        raise FolderError(t("The folder has no {files}; a language model needs config.json, tokenizer.json and "
                            "tokenizer_config.json beside its onnx/ folder.", files=", ".join(missing)))
    for inside, src in picked.files.items():
        if inside.startswith("onnx/") and inside.endswith(".onnx"):
            data = picked.files.get(inside + "_data")
            picked.onnx[inside] = picked._sizes[src] + (picked._sizes[data] if data else 0)
    if not picked.onnx:
        raise FolderError(t("The folder has no ONNX model (onnx/*.onnx). Hearth runs ONNX exports in the "
                            "onnx-community layout; convert other formats with `python -m hearth convert-model`."))
    return picked


def store_id(name: str, taken: list[str]) -> str:
    """A store folder name from a model's name: lowercase letters, digits, '.', '-' only, not taken yet."""
    cleaned = "".join(c if c.isalnum() or c in ".-" else "-" for c in name.lower()).strip("-.") or "model"
    candidate, n = cleaned, 2
    while candidate in taken:
        candidate, n = f"{cleaned}-{n}", n + 1
    return candidate
