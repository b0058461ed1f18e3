"""The tokenizer, chat template and sampler inside real Pyodide 0.27.7 (Node), against `tokenizers` and CPython.

Needs the site's Pyodide folder (`dist/pyodide` after `python build.py`, or HEARTH_PYODIDE_DIR) and node.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import tokenizers

from hearth.llm.model.sampling import Sampler
from hearth.llm.text.tokenizer import BYTE_TO_CHAR
from tests.llm import tok_corpus as corpus

REPO = Path(__file__).resolve().parents[2]
PYODIDE = Path(os.environ.get("HEARTH_PYODIDE_DIR", REPO / "dist" / "pyodide"))

NODE_SCRIPT = """
const [dir, pysrc, work, ...models] = process.argv.slice(1);
const { loadPyodide } = await import(dir + "/pyodide.mjs");
const py = await loadPyodide({ indexURL: dir + "/" });
await py.loadPackage(["numpy", "jinja2"]);
const mount = (host, guest) => {
  py.FS.mkdirTree(guest);
  py.FS.mount(py.FS.filesystems.NODEFS, { root: host }, guest);
};
mount(pysrc, "/host/pysrc");
mount(work, "/host/work");
models.forEach((m, i) => mount(m, "/host/model" + i));
await py.runPythonAsync(`import sys; sys.path.insert(0, "/host/pysrc"); exec(open("/host/work/run.py").read())`);
"""

RUNNER = """
import json
import numpy as np
from hearth.llm.text.chat import load_tokenizer_config, render_chat
from hearth.llm.model.sampling import Sampler
from hearth.llm.text.tokenizer import StreamDecoder, Tokenizer

job = json.load(open("/host/work/job.json"))
out = {}
for i, name in enumerate(job["names"]):
    tok = Tokenizer.from_file(f"/host/model{i}")
    streamed = []
    for ids in job["decode_ids"][name]:
        stream = StreamDecoder(tok)
        streamed.append("".join(stream.push(t) for t in ids) + stream.flush())
    out[name] = {
        "ids": [tok.encode(t) for t in job["texts"]],
        "decoded": [tok.decode(ids) for ids in job["decode_ids"][name]],
        "streamed": streamed,
        "chat": render_chat(load_tokenizer_config(f"/host/model{i}"), job["messages"], date_string="26 Jul 2024"),
    }
logits = np.asarray(job["logits"])
out["picks"] = [Sampler(**job["sampler"], seed=s).pick(logits, [1, 2, 3]) for s in range(20)]
json.dump(out, open("/host/work/out.json", "w"))
"""

SAMPLER = {"temperature": 0.8, "top_k": 50, "top_p": 0.95, "repetition_penalty": 1.1}
MESSAGES = [{"role": "system", "content": "Write the note."}, {"role": "user", "content": "[doctor] hi , martha ."}]


@pytest.mark.slow
def test_pyodide_gives_the_same_ids_text_prompts_and_draws(tmp_path, model_dir):
    node = shutil.which("node")
    if node is None or not (PYODIDE / "pyodide.mjs").exists():
        pytest.skip(f"needs node and a built Pyodide at {PYODIDE} (run python build.py, or set HEARTH_PYODIDE_DIR)")
    names = ["llama3.2", "smollm2"]
    folders = [model_dir(n) for n in names]
    texts = corpus.HAND_PICKED + corpus.aci_texts()[:30] + corpus.random_texts(seed=41, count=1500)
    hf = {n: tokenizers.Tokenizer.from_file(str(f / "tokenizer.json")) for n, f in zip(names, folders, strict=True)}
    rng = random.Random(2)
    decode_ids = {}
    for n, h in hf.items():
        pool = [i for i in map(h.token_to_id, BYTE_TO_CHAR) if i is not None]
        size = h.get_vocab_size(True)
        decode_ids[n] = [[rng.choice(pool) if rng.random() < 0.6 else rng.randrange(size)
                          for _ in range(rng.randint(0, 30))] for _ in range(300)]
    logits = (np.random.default_rng(5).normal(size=49152) * 3).tolist()
    job = {"names": names, "texts": texts, "decode_ids": decode_ids, "messages": MESSAGES, "logits": logits,
           "sampler": SAMPLER}
    (tmp_path / "job.json").write_text(json.dumps(job), encoding="utf-8")
    (tmp_path / "run.py").write_text(RUNNER, encoding="utf-8")
    done = subprocess.run([node, "--input-type=module", "-e", NODE_SCRIPT, str(PYODIDE), str(REPO / "pysrc"),
                           str(tmp_path), *map(str, folders)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))

    from hearth.llm.text.chat import load_tokenizer_config, render_chat

    for n, folder in zip(names, folders, strict=True):
        assert out[n]["ids"] == [e.ids for e in hf[n].encode_batch(texts)]
        expected = hf[n].decode_batch(decode_ids[n], skip_special_tokens=False)
        assert out[n]["decoded"] == expected
        assert out[n]["streamed"] == expected
        assert out[n]["chat"] == render_chat(load_tokenizer_config(folder), MESSAGES, date_string="26 Jul 2024")
    assert out["picks"] == [Sampler(**SAMPLER, seed=s).pick(np.asarray(logits), [1, 2, 3]) for s in range(20)]
