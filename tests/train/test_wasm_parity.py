"""Same seed, same curve: the trainer on CPython onnxruntime and in Pyodide on onnxruntime-web (wasm).

Runs Hearth's Python unchanged in Pyodide under Node with onnxruntime-web's wasm build (the kernels
Chromium runs) through a Node copy of web/ort-bridge.js. Needs node, node_modules and a built
dist/pyodide; set HEARTH_WASM_ROOT to borrow them from another checkout. Chromium itself is
covered by the browser suite.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
ROOT = Path(os.environ.get("HEARTH_WASM_ROOT", REPO))
BROWSER_PY = next((p for p in (Path(os.environ.get("HEARTH_BROWSER_PY", "/nonexistent")),
                                REPO / "pysrc/hearth/runtime/browser.py", ROOT / "pysrc/hearth/runtime/browser.py")
                   if p.exists()), None)
MISSING = [str(p) for p in (ROOT / "node_modules/pyodide/pyodide.mjs",
                            ROOT / "node_modules/onnxruntime-web/dist/ort.node.min.mjs", ROOT / "dist/pyodide")
           if not p.exists()]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("node") is None or bool(MISSING) or BROWSER_PY is None,
                    reason=f"needs node, a built dist/ and node_modules (missing: {MISSING or 'browser.py'})")
def test_same_seed_same_curve_on_onnxruntime_web_wasm():
    script = HERE / "wasm" / "curve.py"
    web = subprocess.run(["node", str(HERE / "wasm" / "run.mjs"), str(ROOT), str(BROWSER_PY), str(script), str(REPO)],
                         capture_output=True, text=True, timeout=900)
    assert web.returncode == 0, web.stderr[-3000:]
    native = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True,
                            env={**os.environ, "PYTHONPATH": str(REPO / "pysrc")})
    ours, theirs = json.loads(web.stdout.splitlines()[-1]), json.loads(native.stdout)
    assert (ours["runtime"], ours["platform"]) == ("onnxruntime-web", "emscripten")
    assert theirs["runtime"] == "onnxruntime"
    assert len(ours["losses"]) == len(theirs["losses"]) == 135
    np.testing.assert_allclose(ours["losses"], theirs["losses"], rtol=0, atol=1e-5)
    for a, b in zip(ours["history"], theirs["history"], strict=True):
        for key in a:
            assert abs(a[key] - b[key]) <= 1e-5, (key, a, b)
