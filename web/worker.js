// Where Python lives: Pyodide, Panel, Hearth, and onnxruntime-web, in a Web Worker so that long
// Python work (training, generation) never freezes the page.

import { loadPyodide } from "./pyodide/pyodide.mjs";
import * as hearthOrt from "./ort-bridge.js";

self.hearthOrt = hearthOrt; // Python reaches the ONNX Runtime bridge as `js.hearthOrt` (hearth.runtime.browser).

const say = (text, fraction, step) => self.postMessage({ type: "status", text, fraction, step });
// Start-up milestones, on the wall clock so the page can put them on its own timeline (bench/).
const mark = (name) => self.postMessage({ type: "timing", name, t: performance.timeOrigin + performance.now() });
mark("worker");
let pyodide = null;
let started = null;

// What the app needs to start: its packages' closure, less DEFERRED_PACKAGES, which no module
// imports while the app starts (bench/profile_boot.py lists what is imported). pyodide-http is not a
// dependency, but without it panel.io.pyodide imports all of pandas at start-up (to patch read_csv).
const BOOT_PACKAGES = ["hearth", "panel", "pyodide-http"];
const DEFERRED_PACKAGES = new Set(["pandas", "python-dateutil", "pytz", "six", "pillow", "contourpy", "narwhals",
                                   "xyzservices", "typing-extensions"]);
let later = []; // every other package in the lock: installed in the background once the app is drawn
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

async function start(base) {
  const pyodideUrl = new URL("pyodide/", base).href;
  say("Starting Python…", 0.05, "python");
  // Fetch the package list while the interpreter compiles.
  const lockPromise = fetch(new URL("pyodide-lock.json", pyodideUrl)).then((r) => r.json());
  mark("start");
  pyodide = await loadPyodide({ indexURL: pyodideUrl, lockFileURL: pyodideUrl + "pyodide-lock.json", packages: [] });
  mark("python");
  const lock = await lockPromise;
  say("Installing packages…", 0.35, "packages");
  // Only what the app imports to start; the rest loads once it is drawn (or when first imported).
  const wanted = closure(lock, BOOT_PACKAGES, DEFERRED_PACKAGES);
  later = closure(lock, Object.keys(lock.packages)).filter((name) => !wanted.includes(name));
  // One loadPackage call: Pyodide fetches every wheel in parallel and installs as they arrive.
  let installed = 0;
  await pyodide.loadPackage(wanted, {
    messageCallback: (m) => {
      if (m.startsWith("Loaded")) return;
      installed += 1;
      say(`Installing packages… (${Math.min(installed, wanted.length)} of ${wanted.length})`,
          0.35 + (0.4 * Math.min(installed, wanted.length)) / wanted.length, "packages");
    },
    errorCallback: (m) => console.warn(m),
  });
  mark("packages");
  say("Building the interface…", 0.8, "app");
  pyodide.globals.set("sendPatch", sendPatch);
  const laterImports = Object.fromEntries(later.flatMap((name) => lock.packages[name].imports.map((i) => [i, name])));
  await pyodide.runPythonAsync(`
import os, pyodide.ffi
# Panel 1.9.4 expects Pyodide 0.29's jsnull; in 0.27 JS null already arrives as None, so a sentinel is right.
if not hasattr(pyodide.ffi, "jsnull"):
    pyodide.ffi.jsnull = object()
os.environ["PANEL_CDN_ROOT"] = ${JSON.stringify(new URL("panel-cdn/", base).href)}
from hearth.app.deferred_packages import wait_on_import
wait_on_import(${JSON.stringify(laterImports)})
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

/** The lock's dependency closure of `names` (not entering `skip`), so progress can count real packages. */
function closure(lock, names, skip = new Set()) {
  const seen = new Set();
  const visit = (name) => {
    if (seen.has(name) || skip.has(name) || !lock.packages[name]) return;
    seen.add(name);
    lock.packages[name].depends.forEach(visit);
  };
  names.forEach(visit);
  return [...seen];
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
      started = start(msg.origin).catch((error) => {
        self.postMessage({ type: "error", text: `Python failed to start:\n${error}` });
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
  }
};
