// transformers.js (npm @huggingface/transformers) for bench/llm_decode.py: everything from this
// site, nothing remote, the same threads as Hearth.
//
// ONNX Runtime: transformers.js 4.3.1 depends on onnxruntime-web 1.31.0-dev, and its bundle runs
// that version's WebGPU ("asyncify") wasm build, whose CPU kernels are type-reduced: it has no
// Cast from uint4, so it cannot open Hearth's 4-bit file. transformers.js documents a way to hand it
// an onnxruntime instance (globalThis[Symbol.for("onnxruntime")]): we give it the wasm-only build of
// the same onnxruntime-web 1.31.0-dev it depends on (tjs/ort/), which has those kernels.
// (Imported inside the handler: a module worker drops messages that arrive before its top-level awaits end.)
let tjs = null;
const runMs = [];
async function transformers() {
  if (!tjs) {
    const ort = await import("./tjs/ort/ort.wasm.min.mjs");
    const run = ort.InferenceSession.prototype.run;
    ort.InferenceSession.prototype.run = async function (...args) { // time inside session.run (for --profile)
      const started = performance.now();
      try {
        return await run.apply(this, args);
      } finally {
        runMs.push(performance.now() - started);
      }
    };
    globalThis[Symbol.for("onnxruntime")] = ort;
    tjs = await import("./tjs/transformers.min.js");
  }
  return tjs;
}

let model = null;

async function load({ modelId, dtype, threads }) {
  const { AutoModelForCausalLM, env } = await transformers();
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = new URL("tjs-models/", location.href).href;
  env.useBrowserCache = false;
  env.backends.onnx.wasm.wasmPaths = new URL("tjs/ort/", location.href).href;
  env.backends.onnx.wasm.numThreads = threads;
  env.backends.onnx.wasm.proxy = false; // already in a worker
  const started = performance.now();
  // With an onnxruntime handed over, transformers.js lists no devices of its own: "auto" plus an
  // explicit wasm execution provider is how it then runs on wasm.
  model = await AutoModelForCausalLM.from_pretrained(modelId, {
    dtype, device: "auto", session_options: { executionProviders: ["wasm"] } });
  const ort = globalThis[Symbol.for("onnxruntime")];
  return { load_s: (performance.now() - started) / 1000, threads: ort.env.wasm.numThreads, ort: ort.env.versions?.web ?? null };
}

/** Greedy generation from token ids; the streamer notes when each new token is there. */
async function generate({ ids, newTokens }) {
  const { Tensor } = await transformers();
  const input_ids = new Tensor("int64", BigInt64Array.from(ids.map(BigInt)), [1, ids.length]);
  const attention_mask = new Tensor("int64", new BigInt64Array(ids.length).fill(1n), [1, ids.length]);
  const times = [];
  const tokens = [];
  let prompt = true;
  const streamer = {
    put(value) {
      if (prompt) { prompt = false; return; } // generate() first hands over the prompt itself
      times.push(performance.now());
      tokens.push(Number(value[0][0]));
    },
    end() {},
  };
  runMs.length = 0;
  const started = performance.now();
  // eos_token_id: null: no stopping at end-of-turn, so every contender makes exactly newTokens tokens
  await model.generate({ input_ids, attention_mask, max_new_tokens: newTokens, do_sample: false, eos_token_id: null,
                         streamer });
  return { started, times, tokens, ort_s: runMs.map((ms) => ms / 1000) };
}

self.onmessage = async (event) => {
  const { id, type, ...args } = event.data;
  try {
    const value = type === "load" ? await load(args) : await generate(args);
    self.postMessage({ type: "result", id, value });
  } catch (error) {
    self.postMessage({ type: "result", id, error: `${error}\n${error.stack ?? ""}` });
  }
};
