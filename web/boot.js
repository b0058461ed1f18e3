// The page side of Hearth: boot screen, service worker, and the Panel document that mirrors the
// one Python builds in the worker (the `panel convert --to pyodide-worker` pattern, hand-written so
// Python starts before anything else and the shell shows at once).

import { N_, chosen, remember, t, use } from "./i18n.js";

const VERSION = document.documentElement.dataset.version;
const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------- language

// The visitor's language (web/i18n.js chosen()); Python learns it in the "start" message, before it
// builds the interface, and a new choice reloads the page. The catalog is fetched at once; nothing is
// written on the page before it is in.
const LANGUAGE = chosen();
document.documentElement.lang = LANGUAGE;
const catalogLoaded = use(LANGUAGE, location.href)
  .catch((error) => console.warn(`Hearth: no ${LANGUAGE} texts (${error}); showing English`));

/** index.html's own words: elements marked data-i18n (their text), data-i18n-attr (those attributes). */
function translatePage() {
  for (const el of document.querySelectorAll("[data-i18n]")) {
    el.textContent = t(el.textContent.trim().replace(/\s+/g, " "));
  }
  for (const el of document.querySelectorAll("[data-i18n-attr]")) {
    for (const name of el.dataset.i18nAttr.split(",")) el.setAttribute(name, t(el.getAttribute(name)));
  }
  const menu = $("language");
  menu.value = LANGUAGE;
  menu.addEventListener("change", () => {
    remember(menu.value);
    location.reload(); // Python builds the interface once, in one language: start again in the new one
  });
}

// ---------------------------------------------------------------- boot screen

// boot.js may run before the body is parsed (it is async, to start Python sooner): touch the DOM after.
// The page's words come with it: nothing is shown until the catalog is in (a small file, fetched at once).
const parsed = new Promise((resolve) => {
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", resolve, { once: true });
  else resolve();
}).then(() => catalogLoaded).then(() => {
  translatePage();
  pageTranslated = true;
});
let pageTranslated = false;

/** The boot screen's line: `text` is English (marked N_), shown in the visitor's language with `fields`. */
function status(text, fraction, step, fields) {
  if (!pageTranslated) {
    parsed.then(() => status(text, fraction, step, fields));
    return;
  }
  $("boot-status").textContent = t(text, fields);
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

/** Start-up failed: `message` is a function that words it (called once the page's words are in). */
function fail(message) {
  if (!pageTranslated) {
    parsed.then(() => fail(message));
    return;
  }
  const box = $("boot-error");
  box.hidden = false;
  box.textContent = message();
  status(N_("Hearth could not start."), null);
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
    const { type, version } = event.data ?? {};
    // Another deployment took over while this page was open (its old files are gone): offer to reload into it.
    if (type === "activated" && version !== VERSION) offerUpdate(t("Hearth was updated in another tab: reload to use the new version."));
    // A new deployment is stored and waits: this page keeps its own version until the visitor reloads.
    if (type === "update-ready" && version !== VERSION) offerUpdate(t("A new version of Hearth is ready."));
    if (type === "precache" && version === VERSION) showSaving(event.data.done / event.data.total);
    if (type === "stored" && version === VERSION) showOfflineState();
    if (type === "store-failed" && version === VERSION) console.warn("Hearth: could not store itself for offline use:", event.data.message);
  });
  const register = () => sw.register("sw.js", { scope: "./", updateViaCache: "none" }).catch((error) => {
    console.warn("Hearth: no service worker, so no offline use:", error);
    return null;
  });
  // Once the app is up and its background packages are in (or a minute after the app is up, if they
  // stall), the service worker stores what of the app part the page has not fetched through it: on
  // the first visit that is what loaded before it took control and what the app has not needed yet
  // (datasets); on later visits, nothing, or what an interrupted first visit left.
  appReady.then(() => Promise.race([laterLoaded, new Promise((resolve) => setTimeout(resolve, 60000))]))
    .then(() => sw.controller?.postMessage({ type: "complete" }));
  const controller = sw.controller;
  if (controller && (await versionOf(controller)) === VERSION) {
    register(); // this deployment's worker already serves the page; registering again checks for updates
    appReady.then(showOfflineState);
    return;
  }
  const registration = await register();
  if (!registration) return;
  // The first visit: this deployment's worker installs at once (storing nothing yet) and takes control,
  // so every file the app fetches from now on is stored as it passes. A new deployment (the old worker
  // would serve old files), or a static host that cannot send COOP/COEP (the worker adds them): wait
  // until this deployment's worker has stored the app and controls the page.
  if (controller) status(N_("Saving Hearth for offline use…"), 0.01);
  const installed = await new Promise((resolve) => {
    const done = async () => {
      if (!sw.controller) return;
      const version = await versionOf(sw.controller);
      if (version === VERSION) resolve(true);
      // No answer in time: a worker still starting or storing files on a loaded machine. Ask again;
      // no event would come to ask later (control already changed), so giving up would hang the boot.
      else if (version === null) setTimeout(done, 500);
    };
    sw.addEventListener("controllerchange", done);
    sw.addEventListener("message", (event) => {
      if (event.data?.type === "precache") {
        status(N_("Saving Hearth for offline use… ({done} of {total} files)"),
               0.3 * (event.data.done / event.data.total), undefined, event.data);
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
  appReady.then(showOfflineState);
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
let laterIsLoaded;
const laterLoaded = new Promise((resolve) => { laterIsLoaded = resolve; });
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
      status(msg.text, msg.fraction, msg.step); // the worker's texts are English (N_-marked in worker.js)
      break;
    case "render":
      status(N_("Drawing the interface…"), 0.97, "app");
      try {
        await render(msg);
      } catch (error) {
        fail(() => t("The interface could not be drawn: {error}", { error }));
      }
      break;
    case "timing":
      timings[msg.name] = Math.round(msg.t - performance.timeOrigin);
      if (msg.name === "later") laterIsLoaded();
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
      fail(() => t("Python failed to start:") + "\n" + msg.error);
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

window.hearth = { version: VERSION, python, worker, timings, checkConnection };

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
    button.textContent = t("Copied");
  } catch (error) {
    button.textContent = t("Copy failed");
    button.title = t("The browser refused the clipboard ({message}); select the text and copy it instead.", error);
  }
  setTimeout(() => (button.textContent = label), 2000);
});
// ---------------------------------------------------------------- offline state and updates

const offlineModule = () => import("./offline.js");
let onlineTitle = null; // the badge's own tooltip (index.html), kept to restore it
let offlineParts = null; // the last web/offline.js parts() answer
let updateOffered = false;

/** The header badge: online, or offline with what still works (all parts stored on this device). */
function showConnection(online) {
  const badge = $("device-badge");
  onlineTitle ??= badge.title;
  badge.classList.toggle("offline", !online);
  document.documentElement.dataset.network = online ? "online" : "offline";
  if (online) {
    badge.textContent = t("Runs on this device");
    badge.title = onlineTitle;
    return;
  }
  if (!offlineParts) {
    // What is stored is not read yet (showOfflineState calls back): claim nothing until it is.
    badge.textContent = t("Offline");
    badge.title = t("No network: Hearth runs from the copy stored on this device.");
    return;
  }
  const missing = offlineParts.filter((p) => p.name !== "app" && !p.complete);
  const chatWorks = !missing.some((p) => p.name === "language-model");
  badge.textContent = chatWorks ? t("Offline: everything stored works") : t("Offline: training works");
  badge.title = (chatWorks
    ? t("No network: Hearth runs from the copy stored on this device. Works: building, training, evaluating, predicting and exporting networks, the built-in datasets, your downloaded models, Chat and Notes with the built-in model.")
    : t("No network: Hearth runs from the copy stored on this device. Works: building, training, evaluating, predicting and exporting networks, the built-in datasets, your downloaded models.")) +
    (missing.length ? " " + t("Needs the network once: {parts}.", { parts: missing.map((p) => `${t(p.title)} (${sizeOf(p.bytes - p.storedBytes)})`).join(", ") }) : "") +
    " " + t("Downloading new models needs the network.");
}

function sizeOf(bytes) {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

/** Is the site reachable, and is it still this version? Asks the network itself (the service worker lets it through). */
async function checkConnection() {
  let online = navigator.onLine;
  if (online) {
    try {
      const response = await fetch(`build.json?hearth-probe=${Date.now()}`, { cache: "no-store" });
      online = true;
      if (response.ok) {
        const { version } = await response.json();
        if (version && version !== VERSION) {
          // A newer deployment: let its service worker install (it says "update-ready" when stored).
          const registration = await navigator.serviceWorker?.getRegistration();
          if (registration) registration.update().catch(() => {});
          else offerUpdate(t("A new version of Hearth is available."));
        }
      }
    } catch {
      online = false;
    }
  }
  showConnection(online);
  // Offline, the badge says what works from what is stored: read it now if no "stored" message did yet.
  if (!online && !offlineParts) await showOfflineState();
  return online;
}

function showSaving(fraction) {
  const mark = $("offline-mark");
  if (mark.dataset.state === "ready") return;
  mark.hidden = false;
  mark.dataset.state = "saving";
  mark.textContent = t("Saving for offline use… {percent}%", { percent: Math.round(100 * fraction) });
  mark.title = t("Hearth is storing itself on this device so it works without the network.");
}

/** The "Ready offline" mark (once the app part is stored), its tooltip, and the Offline panel's table. */
async function showOfflineState() {
  try {
    offlineParts = await (await offlineModule()).parts();
    document.documentElement.dataset.stored = "known";
  } catch (error) {
    console.warn("Hearth: cannot read what is stored for offline use:", error);
    return;
  }
  const mark = $("offline-mark");
  const [app, ...rest] = offlineParts;
  if (app.complete) {
    mark.hidden = false;
    mark.dataset.state = "ready";
    mark.textContent = t("Ready offline");
    const kept = offlineParts.filter((p) => p.complete);
    const notYet = rest.filter((p) => !p.complete);
    mark.title = t("Stored on this device, works without the network:") + "\n" +
      kept.map((p) => `• ${t(p.label)} (${sizeOf(p.bytes)})`).join("\n") +
      (notYet.length ? "\n" + t("Not yet stored (downloaded on first use):") + "\n" + notYet.map((p) => `• ${t(p.label)} (${sizeOf(p.bytes)})`).join("\n") : "") +
      "\n" + t("Click for details.");
  }
  showConnection(document.documentElement.dataset.network !== "offline");
  await drawOfflinePanel();
}

async function drawOfflinePanel() {
  const rows = (offlineParts ?? []).map((p) => {
    const tr = document.createElement("tr");
    tr.dataset.part = p.name;
    const state = p.complete ? t("On this device")
      : p.storedBytes ? t("{stored} of {size}", { stored: sizeOf(p.storedBytes), size: sizeOf(p.bytes) }) : t("Not yet");
    for (const text of [t(p.label), sizeOf(p.bytes), state]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.appendChild(td);
    }
    return tr;
  });
  $("offline-parts").replaceChildren(...rows);
  $("offline-keep").disabled = (offlineParts ?? []).every((p) => p.complete);
  const line = [];
  if (navigator.storage?.estimate) {
    const { usage, quota } = await navigator.storage.estimate();
    line.push(t("This site stores {usage}; the browser allows it up to {quota}.", { usage: sizeOf(usage), quota: sizeOf(quota) }));
  }
  if (navigator.storage?.persisted) {
    line.push((await navigator.storage.persisted())
      ? t("Storage is persistent: the browser keeps it until you clear it.")
      : t("Storage is best-effort: the browser may clear it when the disk runs low (Keep everything asks to make it persistent)."));
  }
  $("offline-storage").textContent = line.join(" ");
}

/** "Keep everything for offline use": ask for persistent storage, then download every part not yet stored. */
async function keepEverything() {
  const button = $("offline-keep");
  const progress = $("offline-progress");
  button.disabled = true;
  try {
    if (navigator.storage?.persist) await navigator.storage.persist();
    const offline = await offlineModule();
    for (const p of await offline.parts()) {
      if (p.complete) continue;
      await offline.keep(p.name, ({ done, total }) => {
        progress.textContent = t("Downloading {part}: {done} of {total}…", { part: t(p.title), done: sizeOf(done), total: sizeOf(total) });
      }, VERSION);
    }
    progress.textContent = t("Everything is stored on this device: Hearth works offline, Chat and Notes included.");
  } catch (error) {
    progress.textContent = error.message;
  } finally {
    await showOfflineState();
  }
}

/** A newer deployment exists: say so and offer a reload (never load its files into this page). */
function offerUpdate(text) {
  updateOffered = true;
  $("update-text").textContent = text;
  $("update-banner").hidden = false;
  document.documentElement.dataset.update = "offered";
}

async function reloadIntoUpdate() {
  const sw = navigator.serviceWorker;
  const registration = await sw?.getRegistration();
  if (registration?.waiting) {
    // Let the stored new version take over, then load the page from it.
    const changed = new Promise((resolve) => sw.addEventListener("controllerchange", resolve, { once: true }));
    registration.waiting.postMessage({ type: "skip-waiting" });
    await Promise.race([changed, new Promise((resolve) => setTimeout(resolve, 5000))]);
  }
  location.reload();
}

parsed.then(() => {
  showConnection(navigator.onLine);
  $("offline-mark").addEventListener("click", async () => {
    await showOfflineState();
    $("offline-panel").showModal();
  });
  $("offline-close").addEventListener("click", () => $("offline-panel").close());
  $("offline-keep").addEventListener("click", keepEverything);
  $("update-reload").addEventListener("click", reloadIntoUpdate);
});
window.addEventListener("offline", () => checkConnection());
window.addEventListener("online", () => checkConnection());
document.addEventListener("visibilitychange", () => document.visibilityState === "visible" && checkConnection());
// A page left open for a class period should still learn of a new deployment (and of the network).
setInterval(() => !updateOffered && checkConnection(), 5 * 60 * 1000);
appReady.then(checkConnection);

// Python starts in the worker at once (above); the service worker check runs alongside, and the
// worker waits for its go-ahead before fetching anything, so every file comes from one deployment.
serviceWorkerReady()
  .catch((error) => console.warn("Hearth: service worker check failed:", error))
  .then(() => {
    timings.go = Math.round(performance.now());
    worker.postMessage({ type: "start", origin: location.href.replace(/[^/]*$/, ""), version: VERSION, language: LANGUAGE });
  });
