"""The language models this visitor can use, and the one that is loaded, shared by every page.

A model is big (sizes in models/README.md), so the app holds at most one loaded at a time and the
Chat and Notes pages borrow it: `get()` loads on first use and keeps it, `use()` lends it to one
page at a time so two pages never interleave tokens on one decoder.

Built-in models come with the site; downloaded and side-loaded ones live in the browser's model
store (web/model-store.js). On CPython (tests, tools) only the built-in ones exist. The site's first
visit does not fetch the built-in model (99 MB): its first use does, with the size and progress in
`fetching`, and keeps it on the device for offline use (web/offline.js).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import param

from hearth.i18n import N_, t
from hearth.runtime import IN_BROWSER

BUILTIN_ID = "smollm2"
BUILTIN_LABEL = N_("SmolLM2-135M-Instruct (built in)")  # shown with t()
BUILTIN_PART = "language-model"  # its part of the site (sitebuild/site.py PARTS)
NOTE_PART = "note-model"
# The note model: the built-in model with the Notes adapter merged in, shipped beside it when the build had
# the adapter. Notes drafts with it by default; Chat keeps the instruction-tuned base (the note model only
# learned to answer the Notes page's section requests).
NOTE_ID = "note"
NOTE_LABEL = N_("SmolLM2-135M note model (built in, fine-tuned for notes)")


@dataclass(frozen=True)
class ModelChoice:
    id: str  # "smollm2" for the built-in model, else its folder in the store (e.g. "llama-3.2-1b-instruct-q4")
    label: str
    size_bytes: int  # the model's files, as stored
    source: str  # "built-in", "downloaded" or "side-loaded"
    backends: tuple[str, ...] = ("wasm", "webgpu")  # where it runs well, best first
    onnx: str = ""  # the ONNX file it runs from
    float16: bool = False  # has float16 tensors: on WebGPU it needs an adapter with shader-f16
    card: str = ""  # one line on what it was trained on and what it is for (the note model's)
    purpose: str = ""  # "notes": only the Notes page offers it


class ModelBusyError(RuntimeError):
    """Another page is generating with the model; the message says which."""


class ModelNotOnDeviceError(RuntimeError):
    """The model's files are not on this device and cannot be fetched now; the message says what to do."""


class BackendUnsupportedError(RuntimeError):
    """This model cannot run on the chosen backend in this browser; the message says what to pick instead."""


def uses_float16(onnx: str) -> bool:
    """onnx-community's naming: *fp16 / *q4f16 exports compute in float16."""
    return onnx.removesuffix(".onnx").endswith(("fp16", "f16"))


class LanguageModels(param.Parameterized):
    choices = param.List(default=[], doc="ModelChoice for every usable model, built-in first.")
    loaded_id = param.String(default=None, allow_None=True, doc="The model in memory now.")
    provider = param.String(default="wasm", doc="Where the loaded model runs: wasm or webgpu.")
    busy = param.String(default="", doc="The page generating now ('' when none).")
    fetching = param.String(default="", doc="While the built-in model is downloaded on first use: its progress.")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._model: Any = None
        self._load_lock = asyncio.Lock()
        if not self.choices:
            self.choices = [ModelChoice(BUILTIN_ID, t(BUILTIN_LABEL), 0, "built-in")]

    async def refresh(self) -> list[ModelChoice]:
        """Re-read what is usable: the built-in model and, in the browser, every complete stored model."""
        # The built-in q4-unpacked file keeps its 4-bit scales in float16 (Cast on the GPU needs shader-f16).
        choices = [ModelChoice(BUILTIN_ID, t(BUILTIN_LABEL), await _builtin_size(), "built-in", float16=True)]
        note = await _note_manifest()
        if note is not None:
            choices.append(ModelChoice(NOTE_ID, t(NOTE_LABEL), sum(int(f["size"]) for f in note["files"].values()),
                                       "built-in", float16=True, card=str(note.get("card", "")), purpose="notes"))
        if IN_BROWSER:
            from hearth.runtime.browser import store_list

            for entry in await store_list():
                info = entry.get("info") or {}
                if info.get("complete") and not any(f["partial"] for f in entry["files"]):
                    choices.append(ModelChoice(str(entry["id"]), str(info.get("label") or entry["id"]),
                                               int(entry.get("bytes", 0)), str(info.get("source", "downloaded")),
                                               tuple(info.get("backends") or ("wasm", "webgpu")),
                                               str(info.get("onnx", "")),
                                               bool(info.get("float16", uses_float16(str(info.get("onnx", "")))))))
        self.choices = choices
        return choices

    def choice(self, model_id: str) -> ModelChoice | None:
        return next((c for c in self.choices if c.id == model_id), None)

    async def get(self, model_id: str = BUILTIN_ID, provider: str | None = None) -> Any:
        """The `hearth.llm` LanguageModel for `model_id` on `provider`, loading it (and releasing the
        previous one) only when it is not the one in memory."""
        provider = provider or self.provider
        async with self._load_lock:
            if self._model is not None and self.loaded_id == model_id and self.provider == provider:
                return self._model
            if self.busy:
                raise ModelBusyError(t("the {page} page is using the model; stop it there first", page=t(self.busy)))
            await self._check_backend(model_id, provider)
            if model_id in (BUILTIN_ID, NOTE_ID) and IN_BROWSER:
                await self._keep_builtin(model_id)
            self.release()
            self._model = await _load(model_id, provider)
            self.param.update(loaded_id=model_id, provider=provider)
            return self._model

    async def _check_backend(self, model_id: str, provider: str) -> None:
        """Refuse, with what to do, a float16 model on a WebGPU adapter without shader-f16: ONNX Runtime
        would not fail there, it would answer with nonsense (its shaders do not compile, outputs stay zero)."""
        choice = self.choice(model_id)
        if provider != "webgpu" or not IN_BROWSER or choice is None or not choice.float16:
            return
        from hearth.runtime import get_runtime

        if "shader-f16" not in await get_runtime().gpu_features():
            raise BackendUnsupportedError(t(
                "{model} computes partly in float16, which this browser's WebGPU adapter cannot do (it lacks the "
                "shader-f16 feature). Run it on WebAssembly, or pick a float32 model for WebGPU.", model=choice.label))

    async def _keep_builtin(self, model_id: str) -> None:
        """Download a built-in model's files on its first use and keep them; refuse clearly when offline."""
        import js

        from hearth.runtime.browser import SitePartError, keep_site_part, site_part

        site_part_name, label = (BUILTIN_PART, BUILTIN_LABEL) if model_id == BUILTIN_ID else (NOTE_PART, NOTE_LABEL)
        try:
            part = await site_part(site_part_name)
        except Exception:  # no build.json reachable: loading says what is missing
            return
        if part["complete"]:
            return
        size = f"{(part['bytes'] - part['storedBytes']) / 1e6:.1f} MB"
        label = t(label)
        first = t("{model} is not on this device yet: download the model first ({size}, once, while online); from then "
                  "on Chat and Notes work offline.", model=label, size=size) if model_id == BUILTIN_ID else \
            t("{model} is not on this device yet: download the model first ({size}, once, while online); from then "
              "on Notes works offline.", model=label, size=size)
        if not js.navigator.onLine:
            raise ModelNotOnDeviceError(first)
        self.fetching = t("Downloading {model}: {size}, once; it is kept on this device for offline use…", model=label,
                          size=size)

        def progress(done: int, total: int) -> None:
            self.fetching = t("Downloading {model}: {done} of {total} MB (once; it is kept on this device for offline "
                              "use)…", model=label, done=f"{done / 1e6:.1f}", total=f"{total / 1e6:.1f}")

        try:
            await keep_site_part(site_part_name, progress)
        except SitePartError as error:
            if error.kind == "unsupported":  # a browser without the Cache API: load it from the site each time
                return
            raise ModelNotOnDeviceError(first if error.kind == "offline" else str(error)) from None
        finally:
            self.fetching = ""

    def release(self) -> None:
        """Free the loaded model's memory."""
        if self._model is not None:
            self._model.release()
            self._model = None
            self.loaded_id = None

    @asynccontextmanager
    async def use(self, page: str, model_id: str = BUILTIN_ID, provider: str | None = None) -> AsyncIterator[Any]:
        """Borrow the model for one generation: `async with models.use("Notes", id) as model:`."""
        if self.busy and self.busy != page:
            raise ModelBusyError(t("the {page} page is using the model; stop it there first", page=t(self.busy)))
        model = await self.get(model_id, provider)
        self.busy = page
        try:
            yield model
        finally:
            self.busy = ""


async def _builtin_size() -> int:
    if IN_BROWSER:
        from hearth.llm.files.site_model import BUILTIN_DIR
        from hearth.runtime import site_file

        manifest = json.loads(await site_file(BUILTIN_DIR[BUILTIN_ID] + "manifest.json"))
        return sum(int(f["size"]) for f in manifest["files"].values())
    from hearth.llm.files.builtin_models import resolve_model

    model_dir = resolve_model(BUILTIN_ID)
    return sum(p.stat().st_size for p in model_dir.rglob("*") if p.is_file())


async def _note_manifest() -> dict[str, Any] | None:
    """The note model's manifest, None when this site (or, on CPython, this checkout) has no note model."""
    if IN_BROWSER:
        from hearth.llm.files.site_model import BUILTIN_DIR
        from hearth.runtime import site_file

        path = BUILTIN_DIR[NOTE_ID] + "manifest.json"
        try:
            # build.json lists every file of this deployment: a site built without the adapter has no note model,
            # and asking for its manifest anyway would be a failed request (offline: a network error).
            if path not in json.loads(await site_file("build.json")).get("files", {}):
                return None
            return json.loads(await site_file(path))
        except Exception:  # no build.json (a bare copy of the site): no note model either
            return None
    from hearth.llm.files.builtin_models import ensure_note_model, note_adapter

    if note_adapter() is None:
        return None
    return json.loads((ensure_note_model() / "manifest.json").read_text())


async def _load(model_id: str, provider: str) -> Any:
    from hearth.llm.files.model_dir import load_model_dir

    if model_id in (BUILTIN_ID, NOTE_ID):
        if IN_BROWSER:
            from hearth.llm.files.site_model import load_site_model

            return await load_site_model(model_id, provider=provider, keep_on_gpu=provider == "webgpu")
        from hearth.llm.files.builtin_models import resolve_model

        return await load_model_dir(resolve_model(model_id), provider=provider)
    if not IN_BROWSER:
        raise ValueError(f"no model {model_id!r} here: outside the browser only the built-in model exists")
    from hearth.llm.files.store_model import load_store_model

    return await load_store_model(model_id, provider=provider)
