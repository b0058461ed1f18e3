// A stored model's external data read a range at a time, for onnxruntime-web.
//
// onnxruntime-web mounts a model's external data (FILE.onnx_data) as one Uint8Array and, while it
// creates the session, copies each weight out of it into the tensor that keeps it; of the mounted
// file it uses only `byteLength` and `subarray(start, end)` (the EM_ASM reader in its wasm glue).
// Handing it the whole file means a second copy of every weight lives in JS until the session is
// built, raising the peak by the file's size (models/README.md). A RangeFile answers those two by
// reading just the range asked for into one scratch buffer, reused for every weight, so at most the
// largest weight is ever outside the wasm heap. The reads must be synchronous (they happen inside
// onnxruntime's C++): an OPFS FileSystemSyncAccessHandle, which dedicated workers have, reads into a
// buffer we give it. (A synchronous XHR or FileReaderSync would allocate a new buffer per weight,
// which V8 does not collect until the session is built, so the peak is no lower than with the
// whole file: models/README.md.)

/** A Uint8Array as far as onnxruntime-web can tell; `read(start, end)` returns those bytes. */
export class RangeFile extends Uint8Array {
  constructor(size, read, close = () => {}) {
    super(0);
    this.fileSize = size;
    this.read = read;
    this.close = close;
  }

  get byteLength() {
    return this.fileSize;
  }

  get length() {
    return this.fileSize;
  }

  subarray(start = 0, end = this.fileSize) {
    const from = Math.max(0, start);
    const to = Math.min(end, this.fileSize);
    return to > from ? this.read(from, to) : new Uint8Array(0);
  }
}

/**
 * A RangeFile over a stored file (a FileSystemFileHandle of the origin private file system), or null
 * where synchronous access is not to be had (not in a worker; the file open elsewhere). Call
 * `close()` once the session is created: the handle locks the file.
 */
export async function rangeFileFromHandle(handle) {
  if (typeof handle.createSyncAccessHandle !== "function") return null;
  let access;
  try {
    access = await handle.createSyncAccessHandle({ mode: "read-only" });
  } catch {
    try {
      access = await handle.createSyncAccessHandle(); // browsers without the read-only mode
    } catch {
      return null;
    }
  }
  let scratch = new Uint8Array(0);
  const read = (start, end) => {
    if (scratch.byteLength < end - start) scratch = new Uint8Array(end - start);
    const view = new Uint8Array(scratch.buffer, 0, end - start);
    for (let done = 0; done < view.byteLength;) {
      const n = access.read(new Uint8Array(scratch.buffer, done, view.byteLength - done), { at: start + done });
      if (!n) throw new Error(`the stored model file ends before byte ${start + done}: delete it and download it again`);
      done += n;
    }
    return view;
  };
  return new RangeFile(access.getSize(), read, () => access.close());
}
