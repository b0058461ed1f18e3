// One TensorFlow.js backend in a worker: build a Keras-style model, then time model.fit epochs on the
// same bytes Hearth trains on. Everything loads from this site; setWasmPaths keeps the .wasm off the CDN.
// TF.js 4.22's wasm backend gives XNNPACK at most half of navigator.hardwareConcurrency threads,
// whatever setThreadsCount asks (1 on a 2-core machine): a worker named "cores=N" shows it N cores.
const shownCores = /^cores=(\d+)$/.exec(self.name)?.[1];
if (shownCores) Object.defineProperty(WorkerNavigator.prototype, "hardwareConcurrency", { get: () => Number(shownCores) });
importScripts("tfjs/tf.min.js", "tfjs/tf-backend-wasm.min.js");
tf.wasm.setWasmPaths(new URL("tfjs/", self.location.href).href);

/**
 * TF.js 4.22's wasm backend has Conv2D and Conv2DBackpropInput but no Conv2DBackpropFilter, so any
 * conv layer fails to train there ("Kernel 'Conv2DBackpropFilter' not registered for backend
 * 'wasm'"). The bench fills it in with the backend's own wasm kernels, so TF.js keeps its fastest
 * path: dW[kh, kw, ci, co] = sum over n, oh, ow of x[n, oh*s + kh - pad, ow*s + kw - pad, ci] dy[n, oh, ow, co]
 * is a Conv2D of x with channels and batch swapped (ci, H, W, N) by dy as the filter (oh, ow, N, co),
 * dilated by the stride. Checked against the cpu backend's kernel in `checkConvFilterGradient`.
 */
function registerConv2DBackpropFilter() {
  const run = (name, inputs, attrs, backend) => tf.getKernel(name, "wasm").kernelFunc({ inputs, attrs, backend });
  tf.registerKernel({
    kernelName: "Conv2DBackpropFilter",
    backendName: "wasm",
    kernelFunc: ({ inputs, attrs, backend }) => {
      const { x, dy } = inputs;
      const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs;
      if (dataFormat !== "NHWC") throw new Error(`bench Conv2DBackpropFilter: ${dataFormat} is not NHWC`);
      const info = tf.backend_util.computeConv2DInfo(x.shape, filterShape, strides, 1, pad, dimRoundingMode);
      const { top, bottom, left, right } = info.padInfo;
      const xt = run("Transpose", { x }, { perm: [3, 1, 2, 0] }, backend);
      const dyt = run("Transpose", { x: dy }, { perm: [1, 2, 0, 3] }, backend);
      const dwt = run("Conv2D", { x: xt, filter: dyt }, {
        strides: [1, 1], pad: [[0, 0], [top, bottom], [left, right], [0, 0]], dataFormat: "NHWC",
        dilations: [info.strideHeight, info.strideWidth], dimRoundingMode }, backend);
      const [kh, kw] = filterShape;
      let cut = dwt;
      if (dwt.shape[1] !== kh || dwt.shape[2] !== kw) {
        cut = run("Slice", { x: dwt }, { begin: [0, 0, 0, 0], size: [-1, kh, kw, -1] }, backend);
      }
      const dw = run("Transpose", { x: cut }, { perm: [1, 2, 0, 3] }, backend);
      for (const t of new Set([xt, dyt, dwt, cut])) backend.disposeData(t.dataId);
      return dw;
    },
  });
}

/** The filter gradient of a strided, padded conv on wasm against TF.js's own cpu kernel. */
async function checkConvFilterGradient() {
  const x = tf.randomNormal([3, 9, 8, 2], 0, 1, "float32", 1);
  const w = tf.randomNormal([3, 3, 2, 4], 0, 1, "float32", 2);
  const cases = [[1, "same"], [2, "same"], [1, "valid"], [2, "valid"]];
  let worst = 0;
  for (const [stride, pad] of cases) {
    const grad = (backend) => {
      tf.setBackend(backend);
      return tf.tidy(() => tf.grad((k) => tf.conv2d(x, k, stride, pad).square().sum())(w).dataSync());
    };
    const cpu = grad("cpu");
    const wasm = grad("wasm");
    for (let i = 0; i < cpu.length; i++) worst = Math.max(worst, Math.abs(cpu[i] - wasm[i]) / (1 + Math.abs(cpu[i])));
  }
  tf.setBackend("wasm");
  tf.dispose([x, w]);
  if (!(worst < 1e-4)) throw new Error(`bench Conv2DBackpropFilter disagrees with TF.js's cpu kernel: ${worst}`);
  return worst;
}

let model = null;
let data = null;

function build(name) {
  const m = tf.sequential();
  if (name === "mlp") {
    m.add(tf.layers.dense({ inputShape: [784], units: 128, activation: "relu" }));
    m.add(tf.layers.dense({ units: 10, activation: "softmax" }));
  } else if (name === "lenet") {
    m.add(tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 6, kernelSize: 5, padding: "same", activation: "relu" }));
    m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
    m.add(tf.layers.conv2d({ filters: 16, kernelSize: 5, padding: "valid", activation: "relu" }));
    m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
    m.add(tf.layers.flatten());
    m.add(tf.layers.dense({ units: 120, activation: "relu" }));
    m.add(tf.layers.dense({ units: 84, activation: "relu" }));
    m.add(tf.layers.dense({ units: 10, activation: "softmax" }));
  } else {
    throw new Error(`no model ${name}`);
  }
  return m;
}

async function floats(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return new Float32Array(await response.arrayBuffer());
}

const handlers = {
  async backend({ backend, threads }) {
    if (backend === "wasm") {
      tf.wasm.setThreadsCount(threads);
      registerConv2DBackpropFilter();
    }
    if (!(await tf.setBackend(backend))) throw new Error(`TF.js backend ${backend} is not available here`);
    await tf.ready();
    const checked = backend === "wasm" ? await checkConvFilterGradient() : null;
    const multithread = backend === "wasm" ? await tf.env().getAsync("WASM_HAS_MULTITHREAD_SUPPORT") : null;
    return { backend: tf.getBackend(), threads: backend === "wasm" ? tf.wasm.getThreadsCount() : null, multithread,
             isolated: self.crossOriginIsolated, filterGradientError: checked };
  },

  async model({ name, inputShape, optimizer, learningRate, dataUrl, samples, classes }) {
    if (model) model.dispose();
    if (data) tf.dispose([data.x, data.y]);
    const [x, y] = await Promise.all([floats(dataUrl + "x.f32"), floats(dataUrl + "y.f32")]);
    data = { x: tf.tensor(x, [samples, ...inputShape]), y: tf.tensor(y, [samples, classes]) };
    model = build(name);
    const opt = optimizer === "adam" ? tf.train.adam(learningRate) : tf.train.sgd(learningRate);
    model.compile({ optimizer: opt, loss: "categoricalCrossentropy", metrics: ["accuracy"] });
    return { params: model.countParams() };
  },

  /** Epochs of model.fit over the first `samples` samples (shuffled each epoch, as Hearth does), one at a
   * time until `minSeconds` have passed. */
  async epoch({ samples, batch, minSeconds = 0 }) {
    const n = Math.min(samples, data.x.shape[0]);
    const [x, y] = n === data.x.shape[0] ? [data.x, data.y] : [data.x.slice(0, n), data.y.slice(0, n)];
    const started = performance.now();
    let epochs = 0;
    let history;
    while (!epochs || performance.now() - started < 1000 * minSeconds) { // whole epochs, as Hearth's side
      history = await model.fit(x, y, { batchSize: batch, epochs: 1, shuffle: true, verbose: 0 });
      epochs += 1;
    }
    const seconds = (performance.now() - started) / 1000;
    if (x !== data.x) tf.dispose([x, y]);
    return { samples: epochs * n, seconds, loss: history.history.loss[0], tensors: tf.memory().numTensors };
  },

  /** Per-step times of model.trainOnBatch (min and median), for profiling. */
  async steps({ count, batch }) {
    const times = [];
    for (let i = 0; i < count; i++) {
      const start = (i * batch) % (data.x.shape[0] - batch);
      const [x, y] = [data.x.slice(start, batch), data.y.slice(start, batch)];
      const t = performance.now();
      await model.trainOnBatch(x, y);
      times.push(performance.now() - t);
      tf.dispose([x, y]);
    }
    times.sort((a, b) => a - b);
    return { min: times[0], median: times[times.length >> 1] };
  },
};

self.onmessage = async ({ data: msg }) => {
  try {
    self.postMessage({ type: "result", id: msg.id, value: await handlers[msg.type](msg) });
  } catch (error) {
    self.postMessage({ type: "result", id: msg.id, error: String(error?.stack || error) });
  }
};
