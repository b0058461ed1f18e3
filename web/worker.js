// Where Python lives: Pyodide, Panel, Hearth, and onnxruntime-web, in a Web Worker so that long
// Python work (training, generation) never freezes the page.

import { loadPyodide } from "./pyodide/pyodide.mjs";
import * as hearthOrt from "./ort-bridge.js";
import * as hearthModels from "./model-store.js";

// Python reaches these as `js.hearthOrt` and `js.hearthModels`, only from hearth/runtime/browser.py.
self.hearthOrt = hearthOrt;
self.hearthModels = hearthModels;

const say = (text, fraction, step) => self.postMessage({ type: "status", text, fraction, step });
let pyodide = null;
let started = null;

function sendPatch(patch, buffers) {
  self.postMessage({ type: "patch", patch, buffers });
}

async function start(base) {
  const pyodideUrl = new URL("pyodide/", base).href;
  say("Starting Python…", 0.05, "python");
  // Fetch the package list while the interpreter compiles.
  const lockPromise = fetch(new URL("pyodide-lock.json", pyodideUrl)).then((r) => r.json());
  pyodide = await loadPyodide({ indexURL: pyodideUrl, lockFileURL: pyodideUrl + "pyodide-lock.json", packages: [] });
  const lock = await lockPromise;
  say("Installing packages…", 0.35, "packages");
  // One loadPackage call: Pyodide fetches every wheel in parallel and installs as they arrive.
  let installed = 0;
  const wanted = closure(lock, ["hearth", "panel"]);
  await pyodide.loadPackage(wanted, {
    messageCallback: (m) => {
      if (m.startsWith("Loaded")) return;
      installed += 1;
      say(`Installing packages… (${Math.min(installed, wanted.length)} of ${wanted.length})`,
          0.35 + (0.4 * Math.min(installed, wanted.length)) / wanted.length, "packages");
    },
    errorCallback: (m) => console.warn(m),
  });
  say("Building the interface…", 0.8, "app");
  pyodide.globals.set("sendPatch", sendPatch);
  const [docsJson, renderItems, rootIds] = await pyodide.runPythonAsync(`
import os, pyodide.ffi
# Panel 1.9.4 expects Pyodide 0.29's jsnull; in 0.27 JS null already arrives as None, so a sentinel is right.
if not hasattr(pyodide.ffi, "jsnull"):
    pyodide.ffi.jsnull = object()
os.environ["PANEL_CDN_ROOT"] = ${JSON.stringify(new URL("panel-cdn/", base).href)}
from hearth.app.worker import render
await render()
`);
  self.postMessage({ type: "render", docs_json: docsJson, render_items: renderItems, root_ids: rootIds });
}

/** The lock's dependency closure of `names`, so progress can count real packages. */
function closure(lock, names) {
  const seen = new Set();
  const visit = (name) => {
    if (seen.has(name) || !lock.packages[name]) return;
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
