// The page side of bench/llm_decode.py. Hearth runs in the app's real worker (../worker.js: Python
// in Pyodide driving onnxruntime-web through hearth.llm), transformers.js in llm-tjs-worker.js, and
// wllama from this page (it starts and drives its own worker). The driver calls window.bench.*
// through Playwright and alternates the contenders round by round.

import { Wllama } from "./wllama/index.js";

const site = new URL("../", location.href).href;
const workers = new Map();
let nextId = 1;
const pending = new Map();

function listen(worker) {
  worker.addEventListener("message", (event) => {
    const msg = event.data;
    if (msg.type === "error") console.error(msg.text);
    if (msg.type !== "result" || !pending.has(msg.id)) return;
    const { resolve, reject } = pending.get(msg.id);
    pending.delete(msg.id);
    msg.error ? reject(new Error(msg.error)) : resolve(msg.value);
  });
  worker.addEventListener("error", (event) => console.error(`worker error: ${event.message}`));
  return worker;
}

function call(worker, msg) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    worker.postMessage({ ...msg, id });
  });
}

let wllama = null;

window.bench = {
  isolated: self.crossOriginIsolated,

  /** Start one of Hearth's app workers (Pyodide, Panel, Hearth), exactly as index.html's boot.js does. */
  startHearth(name) {
    const worker = listen(new Worker(new URL("worker.js", site), { type: "module" }));
    worker.postMessage({ type: "start", origin: site });
    workers.set(name, worker);
  },

  /** Run Python in Hearth worker `name`; the last expression's value comes back. */
  python(name, code) {
    return call(workers.get(name), { type: "python", code });
  },

  /** transformers.js in a worker of its own, loading `model` from the served folder. */
  async startTjs(name, options) {
    const worker = listen(new Worker(new URL("llm-tjs-worker.js", location.href), { type: "module" }));
    workers.set(name, worker);
    return call(worker, { type: "load", ...options });
  },

  tjs(name, msg) {
    return call(workers.get(name), msg);
  },

  /** wllama with its wasm from this site, loading the GGUF from `ggufUrl` as a Blob (no cache, no network). */
  async startWllama({ ggufUrl, threads, nCtx }) {
    wllama = new Wllama({ default: new URL("wllama/wllama.wasm", location.href).href },
                        { suppressNativeLog: true, logger: { ...console, debug() {}, log() {} } });
    const started = performance.now();
    const blob = await (await fetch(ggufUrl)).blob();
    await wllama.loadModel([blob], { n_threads: threads, n_ctx: nCtx });
    return { load_s: (performance.now() - started) / 1000, threads: wllama.getNumThreads(),
             multithread: wllama.isMultithread() };
  },

  /** One greedy completion of `prompt` (text) for exactly `newTokens` tokens, timed per streamed chunk. */
  async wllamaGenerate({ prompt, newTokens }) {
    const times = [];
    let text = "";
    let timings = null;
    const started = performance.now();
    await wllama.createCompletion({
      prompt, max_tokens: newTokens, temperature: 0, temp: 0, top_k: 1, ignore_eos: true, cache_prompt: false,
      stream: true,
      onData: (chunk) => {
        const piece = chunk.choices?.[0]?.text ?? "";
        if (piece) {
          times.push(performance.now());
          text += piece;
        }
        if (chunk.timings) timings = chunk.timings;
      },
    });
    return { started, times, text, timings };
  },
};
