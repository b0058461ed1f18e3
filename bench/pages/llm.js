// The page side of bench/llm_decode.py. Hearth runs in the app's real worker (../worker.js: Python
// in Pyodide driving onnxruntime-web through hearth.llm), transformers.js in llm-tjs-worker.js, and
// wllama from this page (it starts and drives its own worker). The driver calls window.bench.*
// through Playwright and alternates the contenders round by round.

import { Wllama } from "./wllama/index.js";
import { call, python, startHearth, startWorker } from "./worker-rpc.js";

let wllama = null;

window.bench = {
  isolated: self.crossOriginIsolated,

  startHearth,
  python,

  /** transformers.js in a worker of its own, loading `model` from the served folder. */
  async startTjs(name, options) {
    startWorker(name, "llm-tjs-worker.js", { type: "module" });
    return call(name, { type: "load", ...options });
  },

  tjs: call,

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

  /** One greedy completion of `prompt` (text) for exactly `newTokens` tokens, timed per streamed chunk
   * with text (`everyChunk`: per chunk, text or not; a random model's tokens may have no printable text). */
  async wllamaGenerate({ prompt, newTokens, everyChunk = false }) {
    const times = [];
    let text = "";
    let timings = null;
    const started = performance.now();
    await wllama.createCompletion({
      prompt, max_tokens: newTokens, temperature: 0, temp: 0, top_k: 1, ignore_eos: true, cache_prompt: false,
      stream: true,
      onData: (chunk) => {
        const piece = chunk.choices?.[0]?.text ?? "";
        if (piece || (everyChunk && chunk.choices?.length)) {
          times.push(performance.now());
          text += piece;
        }
        if (chunk.timings) timings = chunk.timings;
      },
    });
    return { started, times, text, timings };
  },
};
