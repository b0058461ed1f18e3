// Compile Python sources to bytecode with the very interpreter the site ships (Pyodide, under Node),
// so the browser imports .pyc instead of compiling every module of Panel, Bokeh and the stdlib on
// each start. Called by sitebuild/bytecode.py:
//     node sitebuild/pycompile.mjs PYODIDE_DIR JOBS.json
// JOBS.json: [{"src": path, "dst": path, "kind": "wheel" | "stdlib"}, ...]

import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import path from "node:path";

const [pyodideDir, jobsFile] = process.argv.slice(2);
const { loadPyodide } = await import(pathToFileURL(path.join(pyodideDir, "pyodide.mjs")).href);
const pyodide = await loadPyodide({ indexURL: pyodideDir + "/" });
const jobs = JSON.parse(readFileSync(jobsFile, "utf8"));

pyodide.runPython(`
import importlib.util, io, zipfile
from importlib._bootstrap_external import _code_to_hash_pyc

SITE = "/lib/python3.12/site-packages/"
STDLIB = "/lib/python312.zip/"

def compile_zip(data: bytes, kind: str) -> bytes:
    """Unchecked-hash .pycs (used as is, whatever the files' dates after unpacking) for every .py.

    "wheel": PEP 3147 __pycache__/NAME.cpython-312.pyc beside the source (where the source loader
    looks); "sourceless": NAME.pyc instead of NAME.py (half the files for Pyodide to unpack);
    "stdlib": NAME.pyc instead of NAME.py (where zipimport looks): half the entries for zipimport to
    read at start, and a smaller download than sources and bytecode side by side (README "Start-up time").
    """
    zin = zipfile.ZipFile(io.BytesIO(data if isinstance(data, bytes) else data.to_bytes()))
    out = io.BytesIO()
    added, removed = [], []
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            body = zin.read(item)
            name = item.filename
            if name.endswith(".dist-info/RECORD"):
                record, record_item = body, item
                continue
            code = None
            if name.endswith(".py") and ".dist-info/" not in name and ".data/" not in name:
                try:
                    code = compile(body, (STDLIB if kind == "stdlib" else SITE) + name, "exec", dont_inherit=True)
                except SyntaxError:
                    pass  # e.g. a template file named .py; Python never imports it either
            if code is None or kind == "wheel":
                zout.writestr(item, body)
            if code is None:
                continue
            if kind == "sourceless":
                removed.append(name)
            pyc = _code_to_hash_pyc(code, importlib.util.source_hash(body), checked=False)
            folder, _, stem = name.rpartition("/")
            if kind == "wheel":
                target = (folder + "/" if folder else "") + "__pycache__/" + stem[:-3] + ".cpython-312.pyc"
            else:
                target = name[:-3] + ".pyc"
            info = zipfile.ZipInfo(target, date_time=item.date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(info, bytes(pyc))
            added.append(target)
        if kind != "stdlib":
            gone = set(removed)
            lines = [ln for ln in record.decode().rstrip("\\n").split("\\n") if ln.split(",")[0] not in gone]
            lines += [f"{p},," for p in added]
            zout.writestr(record_item, ("\\n".join(lines) + "\\n").encode())
    return out.getvalue()
`);
const compileZip = pyodide.globals.get("compile_zip");

for (const job of jobs) {
  const result = compileZip(new Uint8Array(readFileSync(job.src)), job.kind);
  writeFileSync(job.dst, result.toJs());
  result.destroy();
  console.log(`compiled ${path.basename(job.src)}`);
}
