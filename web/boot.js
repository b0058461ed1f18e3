// The page side of Hearth: boot screen, service worker, and the Panel document that mirrors the
// one Python builds in the worker (the `panel convert --to pyodide-worker` pattern, hand-written so
// Python starts before anything else and the shell shows at once).

const VERSION = document.documentElement.dataset.version;
const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------- boot screen

// boot.js may run before the body is parsed (it is async, to start Python sooner): touch the DOM after.
const parsed = new Promise((resolve) => {
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", resolve, { once: true });
  else resolve();
});

function status(text, fraction, step) {
  if (document.readyState === "loading") {
    parsed.then(() => status(text, fraction, step));
    return;
  }
  $("boot-status").textContent = text;
  if (fraction != null) $("boot-progress").value = Math.round(2 + 98 * fraction);
  if (step) {
    let seen = false;
    for (const li of document.querySelectorAll("#boot-steps li")) {
      const current = li.dataset.step === step;
      li.classList.toggle("active", current);
      li.classList.toggle("done", !seen && !current);
      if (current) seen = true;
    }
  }
}

function fail(message) {
  if (document.readyState === "loading") {
    parsed.then(() => fail(message));
    return;
  }
  const box = $("boot-error");
  box.hidden = false;
  box.textContent = message;
  status("Hearth could not start.", null);
}

// ---------------------------------------------------------------- service worker

async function versionOf(worker) {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = (e) => resolve(e.data);
    worker.postMessage({ type: "version" }, [channel.port2]);
    setTimeout(() => resolve(null), 3000);
  });
}

/** Make sure the files this page loads come from this page's own deployment, never a mix. */
async function serviceWorkerReady() {
  if (!("serviceWorker" in navigator)) return;
  const sw = navigator.serviceWorker;
  sw.addEventListener("message", (event) => {
    // Another deployment took over while this page was open: reload into it, never mix.
    if (event.data?.type === "activated" && event.data.version !== VERSION) location.reload();
  });
  const register = () => sw.register("sw.js", { scope: "./", updateViaCache: "none" }).catch((error) => {
    console.warn("Hearth: no service worker, so no offline use:", error);
    return null;
  });
  const controller = sw.controller;
  if (!controller && crossOriginIsolated) {
    // First visit: files come from the network. Saving the site for offline use (tens of MB, each
    // file hashed) starts once the app is up, so that it does not slow the start.
    appReady.then(register);
    return;
  }
  if (controller && (await versionOf(controller)) === VERSION) {
    register(); // this deployment's worker already serves the page; registering again checks for updates
    return;
  }
  const registration = await register();
  if (!registration) return;
  // A new deployment (the old worker would serve old files), or a static host that cannot send
  // COOP/COEP (the worker adds them): wait until this deployment's worker has cached everything and
  // controls the page.
  status("Saving Hearth for offline use…", 0.01);
  const installed = await new Promise((resolve) => {
    const done = async () => {
      if (sw.controller && (await versionOf(sw.controller)) === VERSION) resolve(true);
    };
    sw.addEventListener("controllerchange", done);
    sw.addEventListener("message", (event) => {
      if (event.data?.type === "precache") {
        status(`Saving Hearth for offline use… (${event.data.done} of ${event.data.total} files)`,
               0.3 * (event.data.done / event.data.total));
      }
    });
    // If this deployment's worker fails to install (e.g. the host is mid-update), go on from the
    // network rather than wait for ever; the next load tries again.
    const watch = (w) => w?.addEventListener("statechange", () => w.state === "redundant" && resolve(false));
    watch(registration.installing);
    registration.addEventListener("updatefound", () => watch(registration.installing));
    done();
    registration.update().catch(() => {});
    const nudge = setInterval(() => registration.waiting?.postMessage({ type: "skip-waiting" }), 1000);
    sw.addEventListener("controllerchange", () => clearInterval(nudge));
  });
  if (!installed) return;
  if (!crossOriginIsolated && !sessionStorage.getItem("hearth-coi-reload")) {
    sessionStorage.setItem("hearth-coi-reload", "1"); // once: never loop if isolation is impossible
    location.reload();
    await new Promise(() => {});
  }
}

// ---------------------------------------------------------------- Panel document sync

const worker = new Worker(new URL("worker.js", import.meta.url), { type: "module" });
worker.busy = false;
worker.queue = [];
let jsdoc = null;
let rootViews = [];
const pending = new Map();
const timings = {}; // start-up milestones in ms since navigation start: the worker's, then "ready"
let appIsReady;
const appReady = new Promise((resolve) => { appIsReady = resolve; });
let nextCall = 1;

function sendChange(event) {
  // Changes that came from Python (applied with sync: false) go no further; changes the page makes
  // while applying them (a VideoStream answering a snapshot request) are the page's and do.
  if (event.sync === false || (event.setter_id != null && event.setter_id === "py")) return;
  if (worker.busy) {
    // Keep the order of what the person did (a menu choice, then a button click); a value that
    // changes again straight away replaces its previous change.
    const last = worker.queue[worker.queue.length - 1];
    if (last && event.model && event.attr && last.model === event.model && last.attr === event.attr) worker.queue.pop();
    worker.queue.push(event);
    return;
  }
  worker.busy = true;
  worker.postMessage({ type: "patch", patch: jsdoc.create_json_patch([event]) });
}

async function render(msg) {
  await bokehLoaded();
  const docsJson = JSON.parse(msg.docs_json);
  const renderItems = JSON.parse(msg.render_items);
  const rootIds = JSON.parse(msg.root_ids);
  const app = $("app");
  app.replaceChildren();
  const roots = {};
  for (const id of rootIds) {
    const el = document.createElement("div");
    el.id = `root-${id}`;
    el.style.display = "contents";
    app.appendChild(el);
    roots[id] = el.id;
  }
  renderItems[0].roots = roots;
  renderItems[0].root_ids = rootIds;
  const [views] = await Bokeh.embed.embed_items(docsJson, renderItems);
  rootViews = [...views.roots.values()];
  jsdoc = rootViews[0].model.document;
  jsdoc.on_change(sendChange, false);
  // Interactive means seen: wait until Bokeh reports every root drawn (stylesheets loaded, laid out).
  if (!jsdoc.is_idle) {
    const idle = new Promise((resolve) => jsdoc.idle.connect(() => resolve(true)));
    const late = new Promise((resolve) => setTimeout(() => resolve(false), 10000));
    if (!(await Promise.race([idle, late]))) console.warn("Hearth: the interface never reported itself drawn");
  }
  await stylesheetsLoaded($("app"));
  timings.drawn = Math.round(performance.now());
  worker.postMessage({ type: "rendered" });
}

/** Linking flushes changes Python held back while building the page; wait until their redraws are done. */
async function redrawn() {
  const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  await frame();
  for (let i = 0; i < 300 && !rootViews.every((view) => view.has_finished()); i++) await frame();
  await frame();
  await stylesheetsLoaded($("app"));
}

/** Every stylesheet Bokeh linked into the app's shadow roots has loaded (or failed): the app looks as it will. */
async function stylesheetsLoaded(root) {
  const pending = [];
  const visit = (node) => {
    for (const el of node.querySelectorAll("*")) {
      if (!el.shadowRoot) continue;
      for (const link of el.shadowRoot.querySelectorAll("link[rel=stylesheet]")) {
        if (!link.sheet) pending.push(new Promise((resolve) => {
          link.addEventListener("load", resolve, { once: true });
          link.addEventListener("error", resolve, { once: true });
        }));
      }
      visit(el.shadowRoot);
    }
  };
  visit(root);
  // A link that failed before we looked never fires again: do not wait for ever on it.
  await Promise.race([Promise.all(pending), new Promise((resolve) => setTimeout(resolve, 5000))]);
}

function bokehLoaded() {
  return new Promise((resolve) => {
    const check = () => (window.Bokeh?.embed && window.Bokeh?.Panel !== undefined ? resolve() : setTimeout(check, 20));
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", check);
    else check();
  });
}

worker.onmessage = async (event) => {
  const msg = event.data;
  switch (msg.type) {
    case "status":
      status(msg.text, msg.fraction, msg.step);
      break;
    case "render":
      status("Drawing the interface…", 0.97, "app");
      try {
        await render(msg);
      } catch (error) {
        fail(`The interface could not be drawn: ${error}`);
      }
      break;
    case "timing":
      timings[msg.name] = Math.round(msg.t - performance.timeOrigin);
      break;
    case "ready":
      await redrawn();
      timings.ready = Math.round(performance.now());
      document.documentElement.dataset.ready = "true";
      appIsReady();
      break;
    case "backends":
      document.documentElement.dataset.backends = msg.backends;
      break;
    case "patch":
      jsdoc.apply_json_patch(msg.patch, msg.buffers);
      break;
    case "idle":
      if (worker.queue.length) {
        const patch = jsdoc.create_json_patch(worker.queue);
        worker.queue = [];
        worker.postMessage({ type: "patch", patch });
      } else {
        worker.busy = false;
      }
      break;
    case "result": {
      const { resolve, reject } = pending.get(msg.id);
      pending.delete(msg.id);
      msg.error ? reject(new Error(msg.error)) : resolve(msg.value);
      break;
    }
    case "error":
      fail(msg.text);
      break;
  }
};

/** Run Python in the worker and get its JSON-able result: for tests, benchmarks and the devtools console. */
function python(code) {
  const id = nextCall++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    worker.postMessage({ type: "python", id, code });
  });
}

window.hearth = { version: VERSION, python, worker, timings };

// Bokeh's tab headers take keyboard focus but answer only to clicks: let Enter and Space open them.
document.addEventListener("keydown", (event) => {
  const target = event.composedPath()[0];
  if ((event.key === "Enter" || event.key === " ") && target?.classList?.contains("bk-tab")) {
    event.preventDefault();
    target.click();
  }
});
// Model files picked with a file input the app drew (`data-hearth-pick`): the File objects go
// straight to the worker, never through Panel's messages (a model is a gigabyte). File inputs fire
// a composed "input" event, which crosses the shadow roots Panel draws in.
document.addEventListener("input", (event) => {
  const input = event.composedPath()[0];
  if (input?.type !== "file" || !input.dataset?.hearthPick) return;
  const files = Array.from(input.files || []);
  const paths = files.map((f) => f.webkitRelativePath || f.name);
  worker.postMessage({ type: "picked", kind: input.dataset.hearthPick, files, paths });
  input.value = ""; // picking the same folder again is a new pick
});
// Copy buttons (e.g. "Copy note") carry their text in data-hearth-copy: the clipboard is written here,
// inside the click, as browsers require (a round trip through the worker could outlast the gesture).
document.addEventListener("click", async (event) => {
  const button = event.composedPath().find((el) => el?.dataset?.hearthCopy !== undefined);
  if (!button || button.disabled) return;
  const label = button.dataset.label ?? (button.dataset.label = button.textContent);
  try {
    await navigator.clipboard.writeText(button.dataset.hearthCopy);
    button.textContent = "Copied";
  } catch (error) {
    button.textContent = "Copy failed";
    button.title = `The browser refused the clipboard (${error.message}); select the text and copy it instead.`;
  }
  setTimeout(() => (button.textContent = label), 2000);
});
window.addEventListener("offline", () => $("device-badge").classList.add("offline"));
window.addEventListener("online", () => $("device-badge").classList.remove("offline"));

// Python starts in the worker at once (above); the service worker check runs alongside, and the
// worker waits for its go-ahead before fetching anything, so every file comes from one deployment.
serviceWorkerReady()
  .catch((error) => console.warn("Hearth: service worker check failed:", error))
  .then(() => {
    timings.go = Math.round(performance.now());
    worker.postMessage({ type: "start", origin: location.href.replace(/[^/]*$/, "") });
  });
