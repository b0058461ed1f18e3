"""The language model engine: a Llama-family decoder that drafts text in the browser and on CPython.

Three subpackages, in the order a request flows through them:

    text/    text <-> token ids: the tokenizer, its Unicode classes, the chat template
    model/   the model: its config and weights, the decoder graph and its storage layouts, the
             token loop (generate) and the sampler
    files/   getting model files: GGUF / safetensors readers, quantization, the converter, the
             download catalog, and loading a model from a directory, the site or the model store

`text` imports nothing else of Hearth's; `model` may import `text`, `hearth.graph` and `hearth.runtime`;
`files` may import both, never the other way. `cli.py` holds the `python -m hearth` commands
tokenize, generate and convert-model.
"""
