// Model files on this device: downloaded once (resumable, each file checked by size and sha256),
// side-loaded from a local folder, listed and deleted. Lives in the worker; Python reaches it
// through pysrc/hearth/runtime/browser.py. Files are kept in the origin private file system (OPFS),
// which can grow a partial file across sessions, so an interrupted download resumes where it stopped.

import { N_, t } from "./i18n.js";
import { createSHA256 } from "./vendor/hash-wasm/index.esm.min.js";

const ROOT = "hearth-models";
const PART = ".part";

export class StoreError extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind; // "quota" | "integrity" | "network" | "missing" | "aborted"
  }
}

async function dirFor(modelId, path = "", create = true) {
  let dir = await (await navigator.storage.getDirectory()).getDirectoryHandle(ROOT, { create });
  for (const part of [modelId, ...path.split("/").slice(0, -1)].filter(Boolean)) {
    dir = await dir.getDirectoryHandle(part, { create });
  }
  return dir;
}

const baseName = (path) => path.split("/").pop();

async function fileOrNull(dir, name) {
  try {
    return await dir.getFileHandle(name);
  } catch {
    return null;
  }
}

function gb(bytes) {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

/** Free space the browser grants this site, in bytes (null where it cannot tell). */
export async function freeSpace() {
  if (!navigator.storage?.estimate) return null;
  const { quota, usage } = await navigator.storage.estimate();
  return quota - usage;
}

const FREE_SOME_SPACE = N_("Free some space (delete other models, or clear site data)"); // shown with t()

/**
 * Refuse ("quota") before anything is written when the site may not store `bytes` more, with 2% to
 * spare. `message(needed, allowed)` words the refusal.
 */
async function ensureRoom(bytes, message) {
  const free = await freeSpace();
  if (free !== null && free < bytes * 1.02) throw new StoreError("quota", message(gb(bytes), gb(Math.max(free, 0))));
}

const stopped = () => new StoreError("aborted", t("The download was stopped; start it again to resume."));

/** `fetch`, its failures as StoreErrors: "aborted" when `init.signal` stopped it, else "network" worded by `failed(error)`. */
async function request(url, init, failed) {
  try {
    return await fetch(url, { ...init, cache: "no-store" });
  } catch (error) {
    if (init.signal?.aborted) throw stopped();
    throw new StoreError("network", failed(error));
  }
}

const fileUrl = (baseUrl, path) => `${baseUrl.replace(/\/$/, "")}/${path}`;

async function newHasher() {
  const hasher = await createSHA256();
  hasher.init();
  return hasher;
}

/** An ETag that is a sha256 (Hugging Face sends one for large files), or null. */
function etagSha256(response) {
  for (const name of ["x-linked-etag", "etag"]) {
    const value = (response.headers.get(name) || "").replace(/^W\//, "").replace(/"/g, "");
    if (/^[0-9a-f]{64}$/.test(value)) return value;
  }
  return null;
}

/** Feed a stream through the hasher, and on to `sink` (e.g. a file) if given. */
async function pump(stream, hasher, sink = async () => {}) {
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    hasher.update(value);
    await sink(value);
  }
}

async function hashExisting(handle, hasher, onBytes) {
  const file = await handle.getFile();
  await pump(file.stream(), hasher, async (chunk) => onBytes(chunk.byteLength));
  return file.size;
}

/**
 * Download `files` ([{path, size, sha256}]) from `baseUrl` into the store under `modelId`.
 * `onProgress({file, done, total, bytesPerSecond, secondsLeft})` is called as bytes arrive.
 * Interrupted downloads resume from their partial file with an HTTP Range request.
 */
export async function download(modelId, baseUrl, files, onProgress = () => {}, signal = undefined) {
  files = await withSizes(baseUrl, files, signal);
  const total = files.reduce((a, f) => a + f.size, 0);
  let have = 0;
  for (const f of files) {
    const dir = await dirFor(modelId, f.path, false).catch(() => null); // nothing is created before the quota check
    if (!dir) continue;
    const complete = await fileOrNull(dir, baseName(f.path));
    const part = await fileOrNull(dir, baseName(f.path) + PART);
    if (complete) have += (await complete.getFile()).size;
    else if (part) have += (await part.getFile()).size;
  }
  await ensureRoom(total - have, (needed, allowed) => t("Not enough storage for this model: it needs {needed} more, and this browser allows {allowed} for this site. {advice}, or side-load the model from a folder.",
    { needed, allowed, advice: t(FREE_SOME_SPACE) }));
  let done = 0;
  const started = performance.now();
  let startedBytes = null;
  const report = (file) => {
    const elapsed = (performance.now() - started) / 1000;
    const fresh = done - (startedBytes ?? done);
    const rate = elapsed > 0.2 ? fresh / elapsed : 0;
    onProgress({ file, done, total, bytesPerSecond: rate, secondsLeft: rate > 0 ? (total - done) / rate : null });
  };
  for (const f of files) {
    const dir = await dirFor(modelId, f.path);
    const name = baseName(f.path);
    const existing = await fileOrNull(dir, name);
    if (existing && (await existing.getFile()).size === f.size) {
      done += f.size;
      continue; // verified when it was stored
    }
    await fetchFile(dir, name, fileUrl(baseUrl, f.path), f, (n) => {
      done += n;
      if (startedBytes === null) startedBytes = done - n;
      report(f.path);
    }, signal);
  }
  report(null);
  return list();
}

/** Files whose size the catalog does not pin get it from the server (HEAD: Content-Length) before anything is stored. */
async function withSizes(baseUrl, files, signal) {
  const out = [];
  for (const f of files) {
    if (f.size) {
      out.push(f);
      continue;
    }
    const url = fileUrl(baseUrl, f.path);
    const response = await request(url, { method: "HEAD", signal },
      (error) => t("Could not reach {url}: {message}. Check the connection and start again.", { url, message: error.message }));
    const size = Number(response.headers.get("x-linked-size") || response.headers.get("content-length"));
    if (!response.ok || !size) {
      throw new StoreError("network", t("Could not learn the size of {url} (HTTP {status}).", { url, status: response.status }));
    }
    out.push({ ...f, size });
  }
  return out;
}

async function fetchFile(dir, name, url, expected, onBytes, signal) {
  const partHandle = await dir.getFileHandle(name + PART, { create: true });
  const hasher = await newHasher();
  let offset = await hashExisting(partHandle, hasher, onBytes);
  const headers = offset > 0 ? { Range: `bytes=${offset}-` } : {};
  const response = await request(url, { headers, signal }, (error) => t("Could not download {url}: {message}. Check the connection and start again: the download resumes where it stopped.",
    { url, message: error.message }));
  if (response.status === 200 && offset > 0) {
    // The server ignored the Range request: start this file over.
    hasher.init();
    onBytes(-offset);
    offset = 0;
  } else if (!response.ok) {
    throw new StoreError("network", t("Downloading {url} failed: HTTP {status}.", { url, status: response.status }));
  }
  const etag = etagSha256(response);
  const writable = await partHandle.createWritable({ keepExistingData: offset > 0 });
  await writable.seek(offset);
  try {
    await pump(response.body, hasher, async (chunk) => {
      await writable.write(chunk);
      offset += chunk.byteLength;
      onBytes(chunk.byteLength);
    });
  } catch (error) {
    await writable.close().catch(() => {}); // keep what arrived: the next attempt resumes from here
    if (error.name === "QuotaExceededError") {
      throw new StoreError("quota", t("Storage ran out while saving {file}. {advice}, then start again: the download resumes where it stopped.",
        { file: name, advice: t(FREE_SOME_SPACE) }));
    }
    if (signal?.aborted) throw stopped();
    throw new StoreError("network", t("The download of {file} was interrupted ({message}). Start it again: it resumes where it stopped.",
      { file: name, message: error.message }));
  }
  await writable.close();
  const sha256 = hasher.digest("hex");
  const problems = [];
  if (offset !== expected.size) problems.push(t("size {size} bytes, expected {expected}", { size: offset, expected: expected.size }));
  if (expected.sha256 && sha256 !== expected.sha256) problems.push(t("sha256 {sha256}, expected {expected}", { sha256, expected: expected.sha256 }));
  if (etag && sha256 !== etag && offset === expected.size) problems.push(t("sha256 {sha256}, server says {etag}", { sha256, etag }));
  if (problems.length) {
    await dir.removeEntry(name + PART);
    throw new StoreError("integrity", t("{file} failed its check ({problems}): the file is corrupted or was tampered with, and was deleted. Download it again.",
      { file: name, problems: problems.join("; ") }));
  }
  await partHandle.move(dir, name);
}

/**
 * Copy a model picked from a local folder (or single files) into the store. `paths[i]` is where
 * `files[i]` goes in the model (default: its path inside the picked folder). `expected`: the
 * [{path, size, sha256?}] to copy (default: every file). `onProgress({file, done, total})`.
 */
export async function sideload(modelId, files, expected = null, paths = null, onProgress = () => {}) {
  files = Array.from(files);
  const pathOf = (file, i) => paths?.[i] ?? (file.webkitRelativePath.split("/").slice(1).join("/") || file.name);
  const byPath = new Map(files.map((file, i) => [pathOf(file, i), file]));
  const wanted = expected ?? [...byPath.keys()].map((path) => ({ path, size: byPath.get(path).size }));
  const total = wanted.reduce((a, f) => a + f.size, 0);
  await ensureRoom(total, (needed, allowed) => t("Not enough storage to keep this model: it needs {needed}, and this browser allows {allowed} for this site. {advice}.",
    { needed, allowed, advice: t(FREE_SOME_SPACE) }));
  let done = 0;
  for (const f of wanted) {
    const file = byPath.get(f.path);
    if (!file) throw new StoreError("missing", t("The folder has no {path}, which this model needs.", { path: f.path }));
    const dir = await dirFor(modelId, f.path);
    const handle = await dir.getFileHandle(baseName(f.path) + PART, { create: true });
    const hasher = await newHasher();
    const writable = await handle.createWritable();
    try {
      await pump(file.stream(), hasher, async (chunk) => {
        await writable.write(chunk);
        done += chunk.byteLength;
        onProgress({ file: f.path, done, total });
      });
    } catch (error) {
      await writable.close().catch(() => {});
      await dir.removeEntry(baseName(f.path) + PART).catch(() => {});
      if (error.name === "QuotaExceededError") {
        throw new StoreError("quota", t("Storage ran out while copying {path}. Free some space and try again.", { path: f.path }));
      }
      throw new StoreError("missing", t("Could not read {path} from that folder ({message}).", { path: f.path, message: error.message }));
    }
    await writable.close();
    const sha256 = hasher.digest("hex");
    if ((f.sha256 && sha256 !== f.sha256) || file.size !== f.size) {
      await dir.removeEntry(baseName(f.path) + PART);
      throw new StoreError("integrity", t("{path} in that folder is not the expected file (sha256 {sha256}).", { path: f.path, sha256 }));
    }
    await handle.move(dir, baseName(f.path));
  }
  return list();
}

const INFO = "hearth-model.json";

/** Record what a stored model is (name, source, which ONNX file, how it was checked): `list()` reports it. */
export async function writeInfo(modelId, info) {
  const dir = await dirFor(modelId, INFO);
  const writable = await (await dir.getFileHandle(INFO, { create: true })).createWritable();
  await writable.write(JSON.stringify(info));
  await writable.close();
}

async function walk(dir, prefix, out) {
  for await (const [name, handle] of dir.entries()) {
    if (handle.kind === "directory") await walk(handle, `${prefix}${name}/`, out);
    else out.push({ path: prefix + name, size: (await handle.getFile()).size, partial: name.endsWith(PART) });
  }
  return out;
}

/** Stored models: [{id, files: [{path, size, partial}], bytes, info}] (`info`: what writeInfo recorded, or null). */
export async function list() {
  const root = await (await navigator.storage.getDirectory()).getDirectoryHandle(ROOT, { create: true });
  const models = [];
  for await (const [id, handle] of root.entries()) {
    if (handle.kind !== "directory") continue;
    const all = await walk(handle, "", []);
    const files = all.filter((f) => f.path !== INFO);
    const infoFile = await fileOrNull(handle, INFO);
    let info = null;
    try {
      info = infoFile ? JSON.parse(await (await infoFile.getFile()).text()) : null;
    } catch {
      info = null; // a damaged record: the model shows as incomplete, and can be deleted or downloaded again
    }
    if (!files.length && !info) continue; // an empty folder left by a refused download
    models.push({ id, files, bytes: files.reduce((a, f) => a + f.size, 0), info });
  }
  return models;
}

/** True when the store has `path` for `modelId` (complete, not partial). */
export async function has(modelId, path) {
  try {
    return Boolean(await fileOrNull(await dirFor(modelId, path, false), baseName(path)));
  } catch {
    return false;
  }
}

export async function remove(modelId) {
  const root = await (await navigator.storage.getDirectory()).getDirectoryHandle(ROOT, { create: true });
  await root.removeEntry(modelId, { recursive: true });
}

/** A stored file's handle (for reading it range by range: web/range-file.js). */
export async function handle(modelId, path) {
  const found = await fileOrNull(await dirFor(modelId, path, false), baseName(path));
  if (!found) throw new StoreError("missing", t("{model} has no {path} on this device: download it first.", { model: modelId, path }));
  return found;
}

/** A stored file's bytes (for ONNX Runtime, which takes the model graph as one buffer). */
export async function read(modelId, path) {
  return new Uint8Array(await (await (await handle(modelId, path)).getFile()).arrayBuffer());
}
