// Where one decode step's time goes on onnxruntime-web's wasm backend (Node), by operator type, from
// onnxruntime's own profiler (on wasm it prints its JSON to stdout when profiling ends).
//
//   node models/profile_wasm_step.mjs MODEL_DIR onnx/model.onnx
//   env: ORT_DIST (default <repo>/node_modules/onnxruntime-web/dist/), THREADS (2), PROMPT (tokens read
//        first, 64), STEPS (decode steps profiled, 3)
// Weights beside the graph (FILE.onnx_data) are handed over as external data. Prints, per operator type,
// the mean ms per decode step and its share of the step, and the step's wall time.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = process.env.ORT_DIST || path.join(here, '..', 'node_modules', 'onnxruntime-web', 'dist') + '/';
const ort = await import(path.join(dist, 'ort.wasm.min.mjs'));
ort.env.wasm.numThreads = Number(process.env.THREADS || 2);
ort.env.wasm.wasmPaths = dist;
ort.env.logLevel = 'error';

const [modelDir, file] = process.argv.slice(2);
const config = JSON.parse(fs.readFileSync(path.join(modelDir, 'config.json'), 'utf8'));
const promptLen = Number(process.env.PROMPT || 64), steps = Number(process.env.STEPS || 3);
const dataPath = path.join(modelDir, file + '_data');
const options = { executionProviders: ['wasm'], enableProfiling: true };
if (process.env.PROFILE_CHILD && fs.existsSync(dataPath)) options.externalData = [{ path: path.basename(dataPath), data: fs.readFileSync(dataPath) }];
const session = process.env.PROFILE_CHILD && await ort.InferenceSession.create(fs.readFileSync(path.join(modelDir, file)), options);

const i64 = (a, shape) => new ort.Tensor('int64', BigInt64Array.from(a.map(BigInt)), shape);
const L = config.num_hidden_layers, kv = config.num_key_value_heads, hd = config.head_dim;
const ids = Array.from({ length: promptLen }, (_, i) => 1000 + ((i * 7919) % 100000));
let feeds = { input_ids: i64(ids, [1, promptLen]), attention_mask: i64(ids.map(() => 1), [1, promptLen]),
              position_ids: i64(ids.map((_, i) => i), [1, promptLen]) };
const empty = new ort.Tensor('float32', new Float32Array(0), [1, kv, 0, hd]);
for (let i = 0; i < L; i++) feeds[`past_key_values.${i}.key`] = feeds[`past_key_values.${i}.value`] = empty;
const wall = [];
let out = session && await session.run(feeds);
for (let s = 0; session && s < steps; s++) {
  const T = promptLen + s + 1;
  feeds = { input_ids: i64([1000 + s], [1, 1]), attention_mask: i64(Array(T).fill(1), [1, T]), position_ids: i64([T - 1], [1, 1]) };
  for (let i = 0; i < L; i++) {
    feeds[`past_key_values.${i}.key`] = out[`present.${i}.key`];
    feeds[`past_key_values.${i}.value`] = out[`present.${i}.value`];
  }
  const t = performance.now();
  out = await session.run(feeds);
  wall.push(performance.now() - t);
}

// the profiler's JSON goes to stdout (written by the wasm module itself), so the measuring run is a child
// process whose stdout the parent reads
if (!process.env.PROFILE_CHILD) {
  const child = spawnSync(process.execPath, process.argv.slice(1), { env: { ...process.env, PROFILE_CHILD: '1' },
                                                                    maxBuffer: 1 << 30, encoding: 'utf8' });
  if (child.status !== 0) throw new Error(child.stderr);
  summarize(child.stdout);
} else {
  console.log(`WALL ${JSON.stringify(wall)}`);
  await session.endProfiling();
}

function summarize(text) {
const wall = JSON.parse(text.match(/^WALL (.*)$/m)[1]);
const events = JSON.parse(text.slice(text.indexOf('\n[') + 1, text.lastIndexOf(']') + 1));
const runs = events.filter((e) => e.name === 'model_run').sort((a, b) => a.ts - b.ts).slice(-steps);
const byOp = new Map();
for (const e of events) {
  if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
  if (!runs.some((r) => e.ts >= r.ts && e.ts <= r.ts + r.dur)) continue;
  const op = e.args.op_name;
  const entry = byOp.get(op) ?? { ms: 0, count: 0 };
  entry.ms += e.dur / 1000 / steps;
  entry.count += 1 / steps;
  byOp.set(op, entry);
}
const runMs = runs.reduce((a, r) => a + r.dur / 1000, 0) / steps;
const kernels = [...byOp.values()].reduce((a, e) => a + e.ms, 0);
console.log(`${file}: decode step at ${promptLen} tokens of context, ${ort.env.wasm.numThreads} threads: wall ` +
            `${wall.map((w) => w.toFixed(0)).join(', ')} ms; model_run ${runMs.toFixed(0)} ms, kernels ${kernels.toFixed(0)} ms`);
for (const [op, e] of [...byOp.entries()].sort((a, b) => b[1].ms - a[1].ms)) {
  console.log(`  ${op.padEnd(28)} ${e.ms.toFixed(1).padStart(8)} ms  ${(100 * e.ms / runMs).toFixed(1).padStart(5)}%  ${Math.round(e.count)} nodes`);
}
}
