"""The Llama model itself: its shape (`config`), its weight matrices (`weights`), the decoder graph read
top-down like a model file (`decoder`), how weight matrices are stored in that graph (`layouts`: float32,
4-/8-bit blocks expanded at load, MatMulNBits), and generation over a runtime session: the token loop
with its KV cache and stored prompt (`generate`), choosing each token (`sampling`) and keeping the numbers
it writes to a given set (`grounding`).

May import `hearth.llm.text`, `hearth.graph` and `hearth.runtime`; never `hearth.llm.files` (files build
on the model, not the other way).
"""
