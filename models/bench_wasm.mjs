// Decoder timing on onnxruntime-web's wasm backend itself (Node), interleaved rounds, best and median.
//
//   node models/bench_wasm.mjs MODEL_DIR onnx/a.onnx [onnx/b.onnx ...]
//   env: ORT_DIST (default <repo>/node_modules/onnxruntime-web/dist/), THREADS (1), ROUNDS (3),
//        PROMPT (1000 tokens), DECODE (32 tokens)
// CPython's onnxruntime has x86 kernels the wasm build lacks (MatMulNBits above all), so this, not
// CPU timings, says what the browser's wasm path will do. One file at a time is loaded (memory).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = process.env.ORT_DIST || path.join(here, '..', 'node_modules', 'onnxruntime-web', 'dist') + '/';
const ort = await import(path.join(dist, 'ort.wasm.min.mjs'));
ort.env.wasm.numThreads = Number(process.env.THREADS || 1);
ort.env.wasm.wasmPaths = dist;
ort.env.logLevel = 'error';

const [modelDir, ...files] = process.argv.slice(2);
const config = JSON.parse(fs.readFileSync(path.join(modelDir, 'config.json'), 'utf8'));
const rounds = Number(process.env.ROUNDS || 3), promptLen = Number(process.env.PROMPT || 1000);
const decodeLen = Number(process.env.DECODE || 32);
let seed = 1;
const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
const prompt = Array.from({ length: promptLen }, () => 100 + Math.floor(rand() * (config.vocab_size - 100)));
const i64 = (a, shape) => new ort.Tensor('int64', BigInt64Array.from(a.map(BigInt)), shape);

async function greedy(s, ids, n) {
  const L = config.num_hidden_layers, kv = config.num_key_value_heads, hd = config.head_dim;
  let feeds = { input_ids: i64(ids, [1, ids.length]), attention_mask: i64(ids.map(() => 1), [1, ids.length]),
                position_ids: i64(ids.map((_, i) => i), [1, ids.length]) };
  const empty = new ort.Tensor('float32', new Float32Array(0), [1, kv, 0, hd]);
  for (let i = 0; i < L; i++) feeds[`past_key_values.${i}.key`] = feeds[`past_key_values.${i}.value`] = empty;
  let t = performance.now();
  let r = await s.run(feeds);
  const prefill = (performance.now() - t) / 1000;
  const out = [];
  t = performance.now();
  for (let step = 0; step < n; step++) {
    const lg = r.logits.data; let best = 0;
    for (let j = 1; j < lg.length; j++) if (lg[j] > lg[best]) best = j;
    out.push(best);
    const T = ids.length + out.length;
    feeds = { input_ids: i64([best], [1, 1]), attention_mask: i64(Array(T).fill(1), [1, T]), position_ids: i64([T - 1], [1, 1]) };
    for (let i = 0; i < L; i++) {
      feeds[`past_key_values.${i}.key`] = r[`present.${i}.key`];
      feeds[`past_key_values.${i}.value`] = r[`present.${i}.value`];
    }
    r = await s.run(feeds);
  }
  return { out, prefill, decode: n / ((performance.now() - t) / 1000) };
}

const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
for (const file of files) {
  const t = performance.now();
  const s = await ort.InferenceSession.create(fs.readFileSync(path.join(modelDir, file)), { executionProviders: ['wasm'] });
  const load = (performance.now() - t) / 1000;
  const rss = process.memoryUsage().rss / 1e6;
  const r = { prefill: [], long: [], short: [] };
  for (let k = 0; k < rounds; k++) {
    r.short.push((await greedy(s, prompt.slice(0, 16), decodeLen)).decode);
    const g = await greedy(s, prompt, decodeLen);
    r.prefill.push(g.prefill); r.long.push(g.decode);
  }
  console.log(JSON.stringify({
    file, threads: ort.env.wasm.numThreads, load_s: +load.toFixed(2), rss_after_load_mb: Math.round(rss),
    [`prefill_${promptLen}_s_best`]: +Math.min(...r.prefill).toFixed(2), prefill_s_median: +median(r.prefill).toFixed(2),
    decode_tok_s_short_ctx_best: +Math.max(...r.short).toFixed(1), decode_tok_s_short_ctx_median: +median(r.short).toFixed(1),
    [`decode_tok_s_ctx${promptLen}_best`]: +Math.max(...r.long).toFixed(1), decode_tok_s_long_ctx_median: +median(r.long).toFixed(1),
  }));
  await s.release();
}
process.exit(0);
