// Where Python lives: Pyodide, Panel, Hearth, and onnxruntime-web, in a Web Worker so that long
// Python work (training, generation) never freezes the page.

import { loadPyodide } from "./pyodide/pyodide.mjs";
import * as hearthOrt from "./ort-bridge.js";
import * as hearthModels from "./model-store.js";
import * as hearthOffline from "./offline.js";
import { N_, use } from "./i18n.js";

// Python reaches these as `js.hearthOrt`, `js.hearthModels` and `js.hearthOffline`, only from
// hearth/runtime/browser.py.
self.hearthOrt = hearthOrt;
self.hearthModels = hearthModels;
self.hearthOffline = hearthOffline;

// The page shows these texts in the visitor's language (N_ marks them for the catalog; web/boot.js translates).
const say = (text, fraction, step) => self.postMessage({ type: "status", text, fraction, step });
// Start-up milestones, on the wall clock so the page can put them on its own timeline (bench/).
const mark = (name) => self.postMessage({ type: "timing", name, t: performance.timeOrigin + performance.now() });
mark("worker");
let pyodide = null;
let started = null;

let later = []; // the lock's other packages (boot.json): installed in the background once the app is drawn
let laterLoad = null;

/** Install the deferred packages (once); Python waits on this when it imports one of them early. */
function loadLater() {
  laterLoad ??= pyodide.loadPackage(later, { messageCallback: () => {}, errorCallback: (m) => console.warn(m) })
    .then(() => {
      self.hearthLaterDone = true;
      mark("later");
    });
  return laterLoad;
}
self.hearthLoadLater = loadLater;

function sendPatch(patch, buffers) {
  self.postMessage({ type: "patch", patch, buffers });
}

async function start(base, language) {
  const pyodideUrl = new URL("pyodide/", base).href;
  say(N_("Starting Python…"), 0.05, "python");
  // The words of this worker's own messages (web/offline.js, web/model-store.js), in the page's language.
  const words = use(language, base).catch((error) => console.warn(`Hearth: no ${language} texts in the worker (${error})`));
  mark("start");
  // The packages travel while the interpreter starts: the boot plan, then the one bundle of every
  // package the app imports to start (sitebuild/pywheels.py write_boot_plan), inflated natively.
  const planPromise = fetch(pyodideUrl + "boot.json").then((r) => r.json());
  const bundlePromise = planPromise.then((p) => fetchBundle(pyodideUrl + p.bundle));
  bundlePromise.catch(() => {}); // awaited below; this only keeps an early failure from being "unhandled"
  pyodide = await loadPyodide({ indexURL: pyodideUrl, lockFileURL: pyodideUrl + "pyodide-lock.json", packages: [] });
  mark("python");
  const plan = await planPromise;
  later = plan.later;
  say(N_("Installing packages…"), 0.35, "packages");
  // Packages with shared libraries (if the start-up set has any) through Pyodide, which loads those first.
  // numpy travels in the bundle: Python's import loads its extension modules from site-packages.
  const compiled = pyodide.loadPackage(plan.load, { messageCallback: () => {}, errorCallback: (m) => console.warn(m) });
  unpackBundle(pyodide.FS, await bundlePromise, plan.site_packages);
  for (const name of plan.bundled) pyodide.loadedPackages[name] = "default channel"; // never installed twice
  mark("bundle");
  say(N_("Installing packages…"), 0.6, "packages");
  await compiled;
  mark("packages");
  say(N_("Building the interface…"), 0.8, "app");
  await words;
  pyodide.globals.set("sendPatch", sendPatch);
  await pyodide.runPythonAsync(`
import importlib, os, pyodide.ffi
importlib.invalidate_caches()  # site-packages just got its files behind Python's back
# Panel 1.9.4 expects Pyodide 0.29's jsnull; in 0.27 JS null already arrives as None, so a sentinel is right.
if not hasattr(pyodide.ffi, "jsnull"):
    pyodide.ffi.jsnull = object()
os.environ["PANEL_CDN_ROOT"] = ${JSON.stringify(new URL("panel-cdn/", base).href)}
from hearth.i18n import set_language
set_language(${JSON.stringify(language)})  # before anything builds a word of the interface
from hearth.app.deferred_packages import wait_on_import
wait_on_import(${JSON.stringify(plan.later_imports)})
import panel.io.pyodide
`);
  mark("panel");
  const [docsJson, renderItems, rootIds] = await pyodide.runPythonAsync(`
from hearth.app.worker import render
await render()
`);
  mark("document");
  self.postMessage({ type: "render", docs_json: docsJson, render_items: renderItems, root_ids: rootIds });
}

async function fetchBundle(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return new Uint8Array(await new Response(response.body.pipeThrough(new DecompressionStream("gzip"))).arrayBuffer());
}

/** Write the bundle's files (uint32 header length, JSON header {files: [[path, size]]}, bytes) under `dir`. */
function unpackBundle(FS, bytes, dir) {
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + headerLength)));
  let offset = 4 + headerLength;
  const made = new Set();
  for (const [path, size] of header.files) {
    const full = `${dir}/${path}`;
    const folder = full.slice(0, full.lastIndexOf("/"));
    if (!made.has(folder)) {
      FS.mkdirTree(folder);
      made.add(folder);
    }
    FS.writeFile(full, bytes.subarray(offset, offset + size));
    offset += size;
  }
}

async function runPython(id, code) {
  try {
    await started;
    const value = await pyodide.runPythonAsync(code);
    const plain = value?.toJs ? value.toJs({ dict_converter: Object.fromEntries }) : value;
    value?.destroy?.();
    self.postMessage({ type: "result", id, value: plain });
  } catch (error) {
    self.postMessage({ type: "result", id, error: String(error) });
  }
}

self.onmessage = async (event) => {
  const msg = event.data;
  switch (msg.type) {
    case "start":
      self.hearthVersion = msg.version; // the page's deployment: files kept later must be of the same one
      started = start(msg.origin, msg.language ?? "en").catch((error) => {
        self.postMessage({ type: "error", error: String(error) }); // the page words it (web/boot.js)
        throw error;
      });
      break;
    case "rendered":
      await pyodide.runPythonAsync(`
from panel.io.state import state
from panel.io.pyodide import _link_docs_worker
_link_docs_worker(state.curdoc, sendPatch, setter="js")
`);
      self.postMessage({ type: "ready" });
      loadLater();
      self.postMessage({ type: "backends", backends: (await hearthOrt.providers()).join(",") });
      break;
    case "patch":
      pyodide.globals.set("patch", msg.patch);
      await pyodide.runPythonAsync(`
from panel.io.pyodide import _convert_json_patch
from panel.io.state import state
state.curdoc.apply_json_patch(_convert_json_patch(patch), setter="js")
`);
      self.postMessage({ type: "idle" });
      break;
    case "python":
      runPython(msg.id, msg.code);
      break;
    case "picked":
      // Files the user picked on the page (boot.js); Python reads them as js.hearthPicked.
      self.hearthPicked = { kind: msg.kind, files: msg.files, paths: msg.paths };
      self.hearthOnPicked?.(msg.kind, msg.paths, msg.files.map((f) => f.size));
      break;
  }
};
