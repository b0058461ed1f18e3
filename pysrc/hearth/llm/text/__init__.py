"""Text to token ids and back, exactly as Hugging Face does it: the byte-level BPE tokenizer
(`tokenizer`), the Unicode character classes its split patterns need (`unicode_classes`), and chat
prompts rendered from a model's own Jinja template (`chat`).

Pure Python (plus jinja2), so it runs unchanged in Pyodide; it imports nothing else of Hearth's.
"""
