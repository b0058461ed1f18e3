// The JS half of Hearth's runtime seam (the Python half is pysrc/hearth/runtime/browser.py).
// Python creates onnxruntime-web sessions and runs them through these few functions; tensors stay
// here (JS heap, or GPU buffers on WebGPU) between calls unless Python asks for their data.

import { t } from "./i18n.js";
import { rangeFileFromHandle } from "./range-file.js";

let wantedThreads = null;
const instances = new Map(); // build and wasm thread count -> an onnxruntime-web module of its own

// onnxruntime-web ships its wasm kernels in two binaries: the wasm-only one, and a larger one that
// adds WebGPU (JSEP). Wasm sessions get the first, WebGPU sessions the second, each loaded on first
// use: with the smaller binary a large model peaks lower in memory and loads sooner, at the same
// decode speed (figures: models/README.md, "Llama-3.2-1B-shaped in Chromium").
const BUILDS = { wasm: "./ort/ort.wasm.min.mjs", webgpu: "./ort/ort.min.mjs" };

function defaultThreads() {
  // Threads need cross-origin isolation (COOP/COEP); without it ORT would warn and use one.
  return self.crossOriginIsolated ? wantedThreads ?? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
}

/**
 * onnxruntime-web's `build` ("wasm" or "webgpu", see BUILDS) with `threads` wasm threads (default:
 * the app's), loaded on first use so that start-up does not pay for its wasm. ORT fixes its thread
 * pool when its wasm starts, for every session alike, so another thread count is another copy of
 * the module (the URL's query makes it one): small training graphs run faster on 1 thread (README
 * "Training speed"), while the language model wants several. Tensors on the CPU pass between the
 * copies as they are.
 */
async function ort(threads = null, build = "wasm") {
  const n = self.crossOriginIsolated ? threads ?? defaultThreads() : 1;
  const key = `${build}:${n === defaultThreads() ? "default" : n}`;
  if (!instances.has(key)) {
    instances.set(key, (async () => {
      const url = BUILDS[build];
      if (build === "webgpu") {
        // Not fetched on the first visit (most machines have no GPU): the first WebGPU session downloads
        // it and keeps it for offline use (web/offline.js), or says plainly that it needs the network once.
        const { keep } = await import("./offline.js");
        try {
          await keep("webgpu", () => {}, self.hearthVersion ?? null);
        } catch (error) {
          if (error.kind !== "unsupported") {
            instances.delete(key); // try again later (online)
            throw new Error(`${error.message} ${t("WebAssembly needs no download and works now.")}`);
          }
        }
      }
      const module = await import(key.endsWith(":default") ? url : `${url}?threads=${n}`);
      const env = module.env;
      env.wasm.wasmPaths = new URL("./ort/", import.meta.url).href; // never the CDN default
      env.wasm.numThreads = n;
      env.wasm.proxy = false; // we already are in a worker
      env.logLevel = "error";
      return module;
    })());
  }
  return instances.get(key);
}

let gpuAdapter;
/** Execution providers that work here, best first for big models: "wasm" always, "webgpu" when an adapter exists. */
export async function providers() {
  if (gpuAdapter === undefined) {
    try {
      const timeout = new Promise((resolve) => setTimeout(() => resolve(null), 10000));
      gpuAdapter = (await Promise.race([navigator.gpu?.requestAdapter(), timeout])) ?? null;
    } catch {
      gpuAdapter = null;
    }
  }
  return gpuAdapter ? ["wasm", "webgpu"] : ["wasm"];
}

/** The WebGPU adapter's optional features (e.g. "shader-f16", which float16 models need); [] without WebGPU. */
export async function gpuFeatures() {
  await providers();
  return gpuAdapter ? [...gpuAdapter.features] : [];
}

/** The wasm threads of the default onnxruntime-web (what sessions get unless they ask for a count). */
export async function threads() {
  return (await ort()).env.wasm.numThreads;
}

/** Use `n` wasm threads by default instead of min(4, cores); only before ORT's first use (its wasm fixes them at start). */
export function setThreads(n) {
  if ([...instances.keys()].some((key) => key.endsWith(":default"))) throw new Error("onnxruntime-web has already started; set its threads before the first session");
  wantedThreads = Math.max(1, Math.floor(n));
}

const ARRAYS = {
  float32: Float32Array, float16: Uint16Array, int32: Int32Array, int64: BigInt64Array,
  uint8: Uint8Array, int8: Int8Array, bool: Uint8Array, float64: Float64Array, uint32: Uint32Array,
};

/** A tensor from raw little-endian bytes (a copy Python made of a numpy array). */
export async function tensor(dtype, bytes, dims) {
  const { Tensor } = await ort();
  const Array_ = ARRAYS[dtype];
  if (!Array_) throw new Error(`Hearth's bridge has no tensor type ${dtype}`);
  const buffer = bytes.byteOffset % Array_.BYTES_PER_ELEMENT ? bytes.slice() : bytes;
  const data = new Array_(buffer.buffer, buffer.byteOffset, buffer.byteLength / Array_.BYTES_PER_ELEMENT);
  return new Tensor(dtype, dtype === "bool" ? new Uint8Array(data) : data, Array.from(dims));
}

/** Raw bytes, type and shape of a tensor (downloads it from the GPU if it lives there). */
export async function read(t) {
  const data = await t.getData();
  return { dtype: t.type, dims: Array.from(t.dims), bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

export function dispose(t) {
  t.dispose?.();
}

/**
 * Load a model from bytes, from a URL of the site, or from the model store ({modelId, path}), so
 * large models never pass through Python. `keepOnGpu`: outputs stay in GPU buffers on WebGPU.
 * `sessionOptions`: onnxruntime-web session options over Hearth's defaults (e.g. memory settings); for a
 * URL, `externalData` entries may name their data by a URL relative to the model's (e.g. "model.onnx_data").
 * `threads`: wasm threads for this session (null: the default); see `ort()`.
 */
export async function createSession(source, provider, keepOnGpu, sessionOptions = null, threads = null) {
  // only wasm sessions choose their threads; WebGPU stays on one module (its one device)
  const module = provider === "wasm" ? await ort(threads, "wasm") : await ort(null, "webgpu");
  let bytes = source;
  const options = { executionProviders: [provider], graphOptimizationLevel: "all", ...(sessionOptions ?? {}) };
  if (typeof source === "string") {
    // onnxruntime-web fetches the URL itself and copies it into its wasm heap: no copy of the model stays
    // alive here while the session is created. Checked first so a missing file says so clearly (a GET whose
    // body is dropped, not a HEAD: the service worker answers only GETs from its cache when offline).
    const url = new URL(source, self.location.href);
    const probe = await fetch(url);
    probe.body?.cancel();
    if (!probe.ok) throw new Error(`could not load the model ${source}: HTTP ${probe.status}`);
    bytes = url.href;
    // External data (FILE.onnx_data) named relative to the model: onnxruntime-web fetches that too and
    // copies each weight straight into the tensor that keeps it.
    if (options.externalData) {
      options.externalData = options.externalData.map((file) => {
        const path = typeof file === "string" ? file : file.path;
        const data = typeof file === "string" ? file : file.data;
        return { path, data: typeof data === "string" ? new URL(data, url).href : data };
      });
    }
  }
  let rangeFile = null;
  if (source?.modelId) {
    const store = await import("./model-store.js");
    bytes = await store.read(source.modelId, source.path);
    // onnx-community keeps large weights beside the graph, in FILE.onnx_data: hand it over by the name
    // the graph uses, read from disk weight by weight (range-file.js), else whole.
    const dataPath = `${source.path}_data`;
    if (await store.has(source.modelId, dataPath)) {
      const handle = await store.handle(source.modelId, dataPath);
      rangeFile = await rangeFileFromHandle(handle);
      const data = rangeFile ?? new Uint8Array(await (await handle.getFile()).arrayBuffer());
      options.externalData = [{ path: dataPath.split("/").pop(), data }];
    }
  }
  if (provider === "webgpu" && keepOnGpu) options.preferredOutputLocation = "gpu-buffer";
  let session;
  try {
    session = await module.InferenceSession.create(bytes, options);
  } finally {
    rangeFile?.close();
  }
  const wasmThreads = module.env.wasm.numThreads;
  const externalData = rangeFile ? "by range" : options.externalData ? "whole" : "";
  return { session, inputNames: session.inputNames, outputNames: session.outputNames, provider, threads: wasmThreads,
           externalData };
}

/**
 * One run in one round trip from Python. Inputs come as tensors already here (`names`, `tensors`:
 * kept outputs of earlier runs) and as raw little-endian bytes Python made of numpy arrays
 * (`rawNames`, `rawTypes`, `rawBytes`, `rawDims`). Outputs named in `keep` come back as tensors
 * that stay here; the other `fetch`ed ones come back read ({dtype, dims, bytes}) and are freed.
 * Each awaited call from Pyodide has a fixed cost (models/README.md), so a decode step makes one,
 * not one per tensor.
 * `runMs`: the time inside onnxruntime-web's own `session.run` (tensors in and out included).
 */
export async function run(session, names, tensors, rawNames, rawTypes, rawBytes, rawDims, fetch, keep) {
  const feeds = {};
  names.forEach((n, i) => (feeds[n] = tensors[i]));
  for (let k = 0; k < rawNames.length; k++) feeds[rawNames[k]] = await tensor(rawTypes[k], rawBytes[k], rawDims[k]);
  const wanted = [...new Set([...fetch, ...keep])];
  const started = performance.now();
  const out = await session.run(feeds, wanted);
  const runMs = performance.now() - started;
  const read_ = [];
  for (const n of fetch) {
    if (keep.includes(n)) continue;
    read_.push(await read(out[n]));
    out[n].dispose?.();
  }
  return { read: read_, kept: keep.map((n) => out[n]), runMs };
}

/** Free many tensors in one call (a decode step's superseded KV cache). */
export function disposeAll(ts) {
  for (const t of ts) t?.dispose?.();
}

/**
 * Many runs without returning to Python: after each step output `carryFrom[j]` becomes input
 * `carryTo[j]`. Per-step inputs arrive stacked, one buffer per name (`batchBytes[k]`, shape
 * `[steps, ...]`), and are sliced per step without copying. Returns the final carried tensors and,
 * per step, the `fetch` outputs' raw data.
 */
export async function runSteps(session, stateNames, stateTensors, batchNames, batchTypes, batchBytes, batchDims,
                               carryFrom, carryTo, fetch) {
  const { Tensor } = await ort();
  const feeds = {};
  stateNames.forEach((n, i) => (feeds[n] = stateTensors[i]));
  const initial = new Set(stateTensors);
  const wanted = [...new Set([...fetch, ...carryFrom])];
  const stacks = batchNames.map((_, k) => {
    const Array_ = ARRAYS[batchTypes[k]];
    const bytes = batchBytes[k].byteOffset % Array_.BYTES_PER_ELEMENT ? batchBytes[k].slice() : batchBytes[k];
    return new Array_(bytes.buffer, bytes.byteOffset, bytes.byteLength / Array_.BYTES_PER_ELEMENT);
  });
  const steps = batchDims.length ? batchDims[0][0] : 0;
  const perStep = [];
  for (let s = 0; s < steps; s++) {
    batchNames.forEach((n, k) => {
      const dims = Array.from(batchDims[k]).slice(1);
      const size = dims.reduce((a, b) => a * b, 1);
      const data = stacks[k].subarray(s * size, (s + 1) * size);
      feeds[n] = new Tensor(batchTypes[k], batchTypes[k] === "bool" ? new Uint8Array(data) : data, dims);
    });
    const out = await session.run(feeds, wanted);
    const fetched = [];
    for (const n of fetch) fetched.push(await read(out[n]));
    perStep.push(fetched);
    carryFrom.forEach((from, j) => {
      const old = feeds[carryTo[j]];
      if (!initial.has(old)) old.dispose?.(); // intermediate state, not the caller's
      feeds[carryTo[j]] = out[from];
    });
    for (const n of fetch) if (!carryFrom.includes(n)) out[n].dispose?.();
  }
  return { state: carryTo.map((n) => feeds[n]), steps: perStep };
}
