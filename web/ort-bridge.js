// The JS half of Hearth's runtime seam (the Python half is pysrc/hearth/runtime/browser.py).
// Python creates onnxruntime-web sessions and runs them through these few functions; tensors stay
// here (JS heap, or GPU buffers on WebGPU) between calls unless Python asks for their data.

let ortModule = null;

/** onnxruntime-web, loaded on first use so that start-up does not pay for its 28 MB wasm. */
async function ort() {
  if (!ortModule) {
    ortModule = await import("./ort/ort.min.mjs");
    const env = ortModule.env;
    env.wasm.wasmPaths = new URL("./ort/", import.meta.url).href; // never the CDN default
    // Threads need cross-origin isolation (COOP/COEP); without it ORT would warn and use one.
    env.wasm.numThreads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
    env.wasm.proxy = false; // we already are in a worker
    env.logLevel = "error";
  }
  return ortModule;
}

let gpuAdapter;
/** Execution providers that work here, best first for big models: "wasm" always, "webgpu" when an adapter exists. */
export async function providers() {
  if (gpuAdapter === undefined) {
    try {
      gpuAdapter = (await navigator.gpu?.requestAdapter()) ?? null;
    } catch {
      gpuAdapter = null;
    }
  }
  return gpuAdapter ? ["wasm", "webgpu"] : ["wasm"];
}

export async function threads() {
  return (await ort()).env.wasm.numThreads;
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

/** Load a model from bytes. `keepOnGpu`: outputs stay in GPU buffers on WebGPU (KV caches). */
export async function createSession(bytes, provider, keepOnGpu) {
  const { InferenceSession } = await ort();
  const options = { executionProviders: [provider], graphOptimizationLevel: "all" };
  if (provider === "webgpu" && keepOnGpu) options.preferredOutputLocation = "gpu-buffer";
  const session = await InferenceSession.create(bytes, options);
  return { session, inputNames: session.inputNames, outputNames: session.outputNames, provider };
}

/** One run. Returns every fetched output as a Tensor; the caller reads or keeps them. */
export async function run(session, names, tensors, fetch) {
  const feeds = {};
  names.forEach((n, i) => (feeds[n] = tensors[i]));
  const out = await session.run(feeds, Array.from(fetch));
  return fetch.map((n) => out[n]);
}

/**
 * Many runs without returning to Python: after each step output `carryFrom[j]` becomes input
 * `carryTo[j]`. `batches[i]` holds the per-step inputs (names `batchNames`). Returns the final
 * carried tensors and, per step, the `fetch` outputs' raw data.
 */
export async function runSteps(session, stateNames, stateTensors, batchNames, batches, carryFrom, carryTo, fetch) {
  const feeds = {};
  stateNames.forEach((n, i) => (feeds[n] = stateTensors[i]));
  const initial = new Set(stateTensors);
  const wanted = [...new Set([...fetch, ...carryFrom])];
  const perStep = [];
  for (const batch of batches) {
    batchNames.forEach((n, i) => (feeds[n] = batch[i]));
    const out = await session.run(feeds, wanted);
    const fetched = [];
    for (const n of fetch) fetched.push(await read(out[n]));
    perStep.push(fetched);
    carryFrom.forEach((from, j) => {
      const old = feeds[carryTo[j]];
      if (!initial.has(old)) old.dispose?.(); // intermediate state, not the caller's
      feeds[carryTo[j]] = out[from];
    });
  }
  return { state: carryTo.map((n) => feeds[n]), steps: perStep };
}
