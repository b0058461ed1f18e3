"""The Models page: the language models on this device, downloading one, side-loading one, deleting one.

Downloads go straight from the server into the browser's private storage (web/model-store.js), in
the worker, each file checked as it is stored; they resume where they stopped. Side-loading copies a
model folder the user picks on this computer into the same store (only the files it needs), so a
model fetched elsewhere (or on another machine) works offline here too. Both end up as the same kind
of stored model, which the Chat and Notes pages load the same way.
"""

from __future__ import annotations

import time
from html import escape
from typing import Any

import panel as pn

from hearth.app.chat_page import backend_text, size_text, source_text
from hearth.app.language_models import BUILTIN_ID, NOTE_ID, LanguageModels
from hearth.app.state import AppState
from hearth.app.tasks import background
from hearth.app.widgets.html import heading, notice, table, wrap_row
from hearth.i18n import N_, t
from hearth.llm.files import catalog
from hearth.llm.files.model_folder import FolderError, PickedModel, read_picked, store_id
from hearth.runtime import IN_BROWSER

PROGRESS_SECONDS = 0.25  # the progress bar is redrawn at most this often

PICKERS = """
<div class="hearth-pickers" style="display:flex;flex-wrap:wrap;gap:1.5rem;align-items:flex-end">
 <label style="display:flex;flex-direction:column;gap:.2rem;font-size:.9rem">{folder}
  <input type="file" webkitdirectory multiple data-hearth-pick="folder" aria-label="{folder}"></label>
 <label style="display:flex;flex-direction:column;gap:.2rem;font-size:.9rem">{single}
  <input type="file" multiple data-hearth-pick="files" aria-label="{files}"></label>
</div>"""
PICKER_WORDS = {"folder": N_("Model folder"), "single": N_("Or single files (config, tokenizer, .onnx)"),
                "files": N_("Model files")}


def duration(seconds: float | None) -> str:
    if seconds is None:
        return t("estimating")
    if seconds < 60:
        return f"{max(seconds, 0):.0f} s"
    if seconds < 3600:
        return f"{seconds // 60:.0f} min {seconds % 60:02.0f} s"
    return f"{seconds // 3600:.0f} h {seconds % 3600 // 60:02.0f} min"


def progress_text(progress: dict[str, Any]) -> str:
    """'312.4 MB of 1.10 GB (28%) · 11.2 MB/s · 1 min 10 s left' from web/model-store.js's progress."""
    done, total = progress.get("done", 0), progress.get("total", 0) or 1
    rate = progress.get("bytesPerSecond") or 0
    speed = " · " + t("{rate}/s · {duration} left", rate=size_text(rate),
                      duration=duration(progress.get("secondsLeft"))) if rate else ""
    return t("{done} of {total} ({percent}%)", done=size_text(done), total=size_text(total),
             percent=f"{100 * done / total:.0f}") + speed


def backends_text(backends: list[str] | tuple[str, ...]) -> str:
    return ", ".join(backend_text(b) for b in backends if b != "cpu")


class ModelsPage:
    def __init__(self, models: LanguageModels, state: AppState) -> None:
        self.models, self.state = models, state
        self.stored: list[dict] = []  # web/model-store.js list(): every model folder, complete or not
        self.free: int | None = None
        self.listing = pn.pane.HTML("", sizing_mode="stretch_width")
        self.delete_choice = pn.widgets.Select(label=t("Model to delete"), options={}, width=330)
        self.delete_button = pn.widgets.Button(label=t("Delete"), color="danger", variant="outline", width=100)
        self.delete_button.on_click(lambda _e: background(self.delete()))

        self.entry = pn.widgets.Select(label=t("Model to download"), options={m.label: m.id for m in catalog.entries()},
                                       width=400)
        self.entry_info = pn.pane.HTML("", sizing_mode="stretch_width")
        self.download_button = pn.widgets.Button(label=t("Download"), color="primary", width=210)
        self.stop_button = pn.widgets.Button(label=t("Stop"), width=100, disabled=True)
        self.download_button.on_click(lambda _e: background(self.download()))
        self.stop_button.on_click(lambda _e: self.stop())
        self.progress = pn.indicators.Progress(label=t("Download progress"), value=0, max=1000, bar_color="primary",
                                               sizing_mode="stretch_width", margin=(5, 10), visible=False)
        self.progress_text = pn.pane.HTML('<p class="hearth-download" aria-live="polite"></p>',
                                          sizing_mode="stretch_width")
        self.download_message = pn.pane.HTML("", sizing_mode="stretch_width")
        self._download: Any = None
        self._shown_at = 0.0

        self.pickers = pn.pane.HTML(PICKERS.format(**{k: escape(t(v)) for k, v in PICKER_WORDS.items()}),
                                    sizing_mode="stretch_width")
        self.picked: PickedModel | None = None
        self.picked_info = pn.pane.HTML("", sizing_mode="stretch_width")
        self.onnx_choice = pn.widgets.Select(label=t("ONNX file to use"), options={}, width=400, visible=False)
        self.name = pn.widgets.TextInput(label=t("Name"), width=330, visible=False, max_length=80)
        self.add_button = pn.widgets.Button(label=t("Add to my models"), color="primary", width=210, visible=False)
        self.add_button.on_click(lambda _e: background(self.add_picked()))
        self.sideload_message = pn.pane.HTML("", sizing_mode="stretch_width")
        self.entry.param.watch(lambda _e: self._show_entry(), "value")

        self.view = pn.Column(
            pn.pane.HTML(heading(t("Models"), 2) + "<p>" + t("Language models kept <strong>on this device</strong>, for "
                         "the Chat and Notes tabs. A model is downloaded once, checked, and then works offline.")
                         + "</p>"),
            pn.pane.HTML(heading(t("On this device"))), self.listing, wrap_row(self.delete_choice, self.delete_button),
            pn.pane.HTML(heading(t("Download a model"))), self.entry, self.entry_info,
            wrap_row(self.download_button, self.stop_button), self.progress, self.progress_text,
            self.download_message,
            pn.pane.HTML(heading(t("Side-load from this computer")) + "<p>" + t("Already have a model folder (for "
                         "example a <code>git clone</code> of an onnx-community repository)? Pick it: Hearth copies "
                         "the config, the tokenizer and one ONNX file into this browser's storage. Nothing is "
                         "uploaded.") + "</p>"),
            self.pickers, self.picked_info, wrap_row(self.onnx_choice, self.name), self.add_button,
            self.sideload_message, sizing_mode="stretch_width")
        models.param.watch(lambda _e: self._show_listing(), "choices")
        self._show_entry()
        self._show_listing()
        if IN_BROWSER:
            from hearth.runtime.browser import on_files_picked

            on_files_picked(lambda kind, paths, sizes: self.picked_files(paths, sizes))

    async def refresh(self) -> None:
        """Re-read the store: models, partial downloads, free space."""
        if IN_BROWSER:
            from hearth.runtime.browser import store_free_space, store_list

            self.stored = await store_list()
            self.free = await store_free_space()
        await self.models.refresh()
        current = self.entry.value
        self.entry.options = {m.label: m.id for m in catalog.entries()}
        if current in self.entry.options.values():
            self.entry.value = current
        self._show_listing()
        self._show_entry()

    # ---------------------------------------------------------------- on this device
    def _show_listing(self) -> None:
        rows = []
        for choice in self.models.choices:
            size = size_text(choice.size_bytes) if choice.size_bytes else "—"
            rows.append((choice.label, size, source_text(choice.source), backends_text(choice.backends), t("ready")))
        ready = {c.id for c in self.models.choices}
        for entry in self.stored:
            if entry["id"] in ready:
                continue
            known = catalog.find(entry["id"])
            label = known.label if known else (entry.get("info") or {}).get("label", entry["id"])
            rows.append((label, size_text(entry["bytes"]), t("download"), "", t("incomplete: download again to resume")))
        free = t("Free space for this site: {size}.", size=size_text(self.free)) if self.free is not None else ""
        self.listing.object = table([t("Model"), t("Size"), t("Source"), t("Suits"), t("State")], rows) + (
            f'<p class="hearth-free-space">{escape(free)}</p>' if free else "")
        deletable = {label: entry_id for entry_id, label in self._deletable()}
        self.delete_choice.options = deletable
        self.delete_choice.disabled = self.delete_button.disabled = not deletable

    def _deletable(self) -> list[tuple[str, str]]:
        out = [(c.id, c.label) for c in self.models.choices if c.source != "built-in"]
        ready = {c.id for c in self.models.choices}
        out += [(e["id"], t("{model} (incomplete)", model=e["id"])) for e in self.stored if e["id"] not in ready]
        return out

    async def delete(self) -> None:
        from hearth.runtime.browser import store_remove

        model_id = self.delete_choice.value
        if not model_id:
            return
        if self.models.busy and self.models.loaded_id == model_id:
            self.download_message.object = notice(t("The {page} page is using this model; stop it there first.",
                                                    page=t(self.models.busy)), "error")
            return
        if self._download is not None and self._download.model_id == model_id:
            self.download_message.object = notice(t("This model is downloading; stop the download first."), "error")
            return
        if self.models.loaded_id == model_id:
            self.models.release()
        size = next((e["bytes"] for e in self.stored if e["id"] == model_id), 0)
        await store_remove(model_id)
        await self.refresh()
        self.download_message.object = notice(t("Deleted {model}; {size} freed.", model=model_id, size=size_text(size)),
                                              "success")

    # ---------------------------------------------------------------- download
    def _show_entry(self) -> None:
        entry = catalog.find(self.entry.value) if self.entry.value else None
        if entry is None:
            self.entry_info.object = ""
            return
        exact = all(f.size for f in entry.files)
        size = size_text(entry.size) if exact else t("about {size}", size=size_text(entry.approx_bytes))
        partial = next((e for e in self.stored if e["id"] == entry.id), None)
        have = any(c.id == entry.id for c in self.models.choices)
        state = (t("On this device already.") if have else
                 t("{size} already downloaded; the download resumes from there.", size=size_text(partial["bytes"]))
                 if partial else "")
        self.entry_info.object = (
            f'<p class="hearth-entry">{escape(t(entry.note))}<br>'
            + t("Download: {size} · suits {backends} · {license}", size=escape(size),
                backends=escape(backends_text(entry.backends)), license=escape(entry.license)) + "<br>"
            + t("From {url}", url=f"<code>{escape(entry.base_url)}</code>") + "<br>"
            + t("Integrity: {how}.", how=escape(t(entry.verification())))
            + f"{'<br>' + escape(state) if state else ''}</p>")
        if self._download is None:
            self.download_button.label = t("Resume download") if partial and not have else t("Download")

    async def download(self) -> None:
        from hearth.runtime.browser import Download, StoreError, store_write_info

        entry = catalog.find(self.entry.value) if self.entry.value else None
        if entry is None or self._download is not None:
            return
        self._download = Download(entry.id, entry.base_url, entry.manifest(), on_progress=self._progress)
        self.download_button.disabled, self.stop_button.disabled = True, False
        self.progress.param.update(visible=True, value=0)
        self.download_message.object = ""
        self.progress_text.object = self._progress_html(t("Starting the download of {model}…", model=entry.label))
        try:
            await self._download.run()
            await store_write_info(entry.id, entry.info())
            self.progress.value = 1000
            self.progress_text.object = self._progress_html(t("Downloaded {model}.", model=entry.label))
            self.download_message.object = notice(t("{model} is on this device: pick it on the Chat tab.",
                                                    model=entry.label) + " "
                                                  + t("Integrity: {how}.", how=t(entry.verification())), "success")
        except StoreError as error:
            if error.kind == "aborted":
                self.progress_text.object = self._progress_html(
                    t("Stopped at {where}. Press Resume download to go on from there.", where=self.progress_text_value))
            else:
                self.download_message.object = notice(str(error), "error")
                self.progress_text.object = self._progress_html("")
        finally:
            self._download = None
            self.download_button.disabled, self.stop_button.disabled = False, True
            await self.refresh()

    progress_text_value = ""

    def _progress(self, progress: dict) -> None:
        now = time.perf_counter()
        finished = progress.get("file") is None
        if now - self._shown_at < PROGRESS_SECONDS and not finished:
            return
        self._shown_at = now
        total = progress.get("total") or 1
        self.progress.value = int(1000 * progress.get("done", 0) / total)
        self.progress_text_value = progress_text(progress)
        self.progress_text.object = self._progress_html(self.progress_text_value)

    @staticmethod
    def _progress_html(text: str) -> str:
        return f'<p class="hearth-download" aria-live="polite">{escape(text)}</p>'

    def stop(self) -> None:
        if self._download is not None:
            self._download.stop()

    # ---------------------------------------------------------------- side-load
    def picked_files(self, paths: list[str], sizes: list[int]) -> None:
        """The user picked a folder or files (web/boot.js sends their paths and sizes, never their bytes)."""
        self.sideload_message.object = ""
        try:
            picked = read_picked(paths, sizes)
        except FolderError as error:
            self.picked = None
            self._show_picked()
            self.sideload_message.object = notice(str(error), "error")
            return
        self.picked = picked
        self._show_picked()

    def _show_picked(self) -> None:
        picked = self.picked
        for widget in (self.onnx_choice, self.name, self.add_button):
            widget.visible = picked is not None
        if picked is None:
            self.picked_info.object = ""
            return
        self.onnx_choice.options = {f"{path} ({size_text(size)})": path for path, size in sorted(picked.onnx.items())}
        self.onnx_choice.value = picked.default_onnx(self.state.providers)
        self.name.value = picked.name or t("My model")
        found = t("Found a model folder with 1 ONNX file.") if len(picked.onnx) == 1 else \
            t("Found a model folder with {count} ONNX files.", count=len(picked.onnx))
        self.picked_info.object = (f'<p class="hearth-picked">{found} ' + t(
            "Pick the one to keep (smaller 4-bit files load faster; <code>q4f16</code> and <code>fp16</code> are for "
            "WebGPU).") + "</p>")

    async def add_picked(self) -> None:
        """Check the picked folder's config, then copy the chosen files into the store."""
        from hearth.llm.model.config import LlamaConfig
        from hearth.runtime.browser import StoreError, picked_text, store_sideload_picked, store_write_info

        picked, onnx = self.picked, self.onnx_choice.value
        if picked is None or not onnx:
            return
        name = self.name.value.strip() or picked.name or t("My model")
        wanted = picked.wanted(onnx)
        try:
            import json

            LlamaConfig.from_hf(json.loads(await picked_text(wanted["config.json"])))
            tokenizer_config = json.loads(await picked_text(wanted["tokenizer_config.json"]))
        except (ValueError, StoreError) as error:
            self.sideload_message.object = notice(t("This folder's model cannot run in Hearth: {error}", error=error),
                                                  "error")
            return
        if "chat_template" not in tokenizer_config and "chat_template.jinja" not in wanted:
            self.sideload_message.object = notice(t("This model has no chat template (tokenizer_config.json has no "
                                                    "chat_template): it is a base model, not an instruction-tuned one, "
                                                    "so it cannot chat. Pick an Instruct model's folder."), "error")
            return
        model_id = store_id(name, [e["id"] for e in self.stored] + [BUILTIN_ID, NOTE_ID])
        self.add_button.disabled = True
        self.progress.param.update(visible=True, value=0)
        self.sideload_message.object = notice(t("Copying {size} into this browser's storage…",
                                                size=size_text(picked.size(onnx))))
        try:
            await store_sideload_picked(model_id, wanted, on_progress=self._progress)
            backends = ["webgpu"] if onnx.endswith(("f16.onnx", "fp16.onnx")) else ["wasm", "webgpu"]
            await store_write_info(model_id, {
                "id": model_id, "label": f"{name} (side-loaded)", "source": "side-loaded", "onnx": onnx,
                "backends": backends, "complete": True,
                "verified": "copied from your folder; no published checksum to compare with"})
        except StoreError as error:
            self.sideload_message.object = notice(str(error), "error")
            return
        finally:
            self.add_button.disabled = False
            self.progress.visible = False
            await self.refresh()
        self.picked = None
        self._show_picked()
        self.sideload_message.object = notice(t("{model} is on this device: pick it on the Chat tab.", model=name),
                                              "success")
