"""Getting model files and turning them into a runnable model.

Reading sources (`gguf_weights`, `gguf_tokenizer`, `safetensors`), quantizing float checkpoints
(`quantize`), writing the onnx-community layout (`convert`), the built-in SmolLM2 (`builtin_models`,
build time), the pinned download catalog (`catalog`), which picked files make a side-loaded model
(`model_folder`), and loading a model from a directory on disk (`model_dir`), from the site
(`site_model`) or from the browser's model store (`store_model`).

May import `hearth.llm.model`, `hearth.llm.text`, `hearth.graph` and `hearth.runtime`.
"""
