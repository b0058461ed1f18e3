// Pyodide + onnxruntime-web (wasm) in Node: Hearth's Python, unchanged, on the browser's runtime.
//   node run.mjs ROOT BROWSER_PY SCRIPT
// ROOT: a Hearth checkout with node_modules/ and a built dist/pyodide/ (numpy, pillow wheels).
// BROWSER_PY: pysrc/hearth/runtime/browser.py to use. SCRIPT: Python to run (top-level await allowed).
// hearthOrt below mirrors web/ort-bridge.js with onnxruntime-web's Node build (same wasm kernels).
import { readdirSync, readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [, , root, bridgeRuntime, script, pysrcRoot = root] = process.argv;
const { loadPyodide } = await import(pathToFileURL(`${root}/node_modules/pyodide/pyodide.mjs`).href);
const ort = await import(pathToFileURL(`${root}/node_modules/onnxruntime-web/dist/ort.node.min.mjs`).href);
ort.env.wasm.numThreads = 1;
ort.env.logLevel = "error";
const ARRAYS = { float32: Float32Array, int64: BigInt64Array, int32: Int32Array, uint8: Uint8Array, bool: Uint8Array };
globalThis.hearthOrt = {
  async providers() { return ["wasm"]; },
  async gpuFeatures() { return []; },
  async threads() { return ort.env.wasm.numThreads; },
  async tensor(dtype, bytes, dims) {
    const A = ARRAYS[dtype];
    const buffer = bytes.byteOffset % A.BYTES_PER_ELEMENT ? bytes.slice() : bytes;
    return new ort.Tensor(dtype, new A(buffer.buffer, buffer.byteOffset, buffer.byteLength / A.BYTES_PER_ELEMENT), Array.from(dims));
  },
  async read(t) {
    const data = await t.getData();
    return { dtype: t.type, dims: Array.from(t.dims), bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  },
  dispose(t) { t.dispose?.(); },
  async createSession(bytes, provider) {
    const session = await ort.InferenceSession.create(bytes, { executionProviders: [provider], graphOptimizationLevel: "all" });
    return { session, inputNames: session.inputNames, outputNames: session.outputNames, provider,
             threads: ort.env.wasm.numThreads, externalData: "" };  // the page's bridge says how weights came
  },
  async run(session, names, tensors, rawNames, rawTypes, rawBytes, rawDims, fetch, keep) {
    const feeds = {};
    names.forEach((n, i) => (feeds[n] = tensors[i]));
    for (let k = 0; k < rawNames.length; k++) feeds[rawNames[k]] = await this.tensor(rawTypes[k], rawBytes[k], rawDims[k]);
    const started = performance.now();
    const out = await session.run(feeds, [...new Set([...fetch, ...keep])]);
    const runMs = performance.now() - started;
    const read = [];
    for (const n of fetch) if (!keep.includes(n)) read.push(await this.read(out[n]));
    return { read, kept: keep.map((n) => out[n]), runMs };
  },
  disposeAll(ts) {
    for (const t of ts) t?.dispose?.();
  },
  async runSteps(session, stateNames, stateTensors, batchNames, batchTypes, batchBytes, batchDims, carryFrom, carryTo, fetch) {
    const feeds = {};
    stateNames.forEach((n, i) => (feeds[n] = stateTensors[i]));
    const initial = new Set(stateTensors);
    const wanted = [...new Set([...fetch, ...carryFrom])];
    const steps = batchDims.length ? batchDims[0][0] : 0;
    const perStep = [];
    for (let s = 0; s < steps; s++) {
      for (let k = 0; k < batchNames.length; k++) {
        const dims = Array.from(batchDims[k]).slice(1);
        const size = dims.reduce((a, b) => a * b, 1);
        const A = ARRAYS[batchTypes[k]];
        const bytes = batchBytes[k].slice(s * size * A.BYTES_PER_ELEMENT, (s + 1) * size * A.BYTES_PER_ELEMENT);
        feeds[batchNames[k]] = new ort.Tensor(batchTypes[k], new A(bytes.buffer), dims);
      }
      const out = await session.run(feeds, wanted);
      const fetched = [];
      for (const n of fetch) fetched.push(await this.read(out[n]));
      perStep.push(fetched);
      carryFrom.forEach((from, j) => {
        const old = feeds[carryTo[j]];
        if (!initial.has(old)) old.dispose?.();
        feeds[carryTo[j]] = out[from];
      });
    }
    return { state: carryTo.map((n) => feeds[n]), steps: perStep };
  },
};
// browser.py imports these; training never uses the model store or the offline parts
globalThis.hearthModels = {};
globalThis.hearthOffline = {};
const wheels = `${root}/dist/pyodide`;
const py = await loadPyodide({ indexURL: `${wheels}/` });
const wanted = readdirSync(wheels).filter((f) => /^(numpy|pillow)-.*\.whl$/.test(f)).map((f) => `${wheels}/${f}`);
await py.loadPackage(wanted, { messageCallback: () => {} });
py.FS.mkdirTree("/wt");
py.FS.mount(py.FS.filesystems.NODEFS, { root: pysrcRoot }, "/wt");
py.FS.writeFile("/tmp/browser.py", readFileSync(bridgeRuntime));
await py.runPythonAsync(`
import sys, shutil
shutil.copytree("/wt/pysrc", "/tmp/pysrc")
shutil.copy("/tmp/browser.py", "/tmp/pysrc/hearth/runtime/browser.py")
sys.path.insert(0, "/tmp/pysrc")
import os; os.environ["HEARTH_DATA_DIR"] = "/wt/static/data"
`);
await py.runPythonAsync(readFileSync(script, "utf8"));
await py.runPythonAsync("if 'task' in globals(): await task");  // the script's main(), started in Pyodide
