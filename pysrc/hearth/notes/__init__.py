"""Clinical note drafting: a visit transcript in, a structured note out, all on this device.

Modules, in the order data flows through them: `transcript` (load and check a transcript),
`formats` (note formats, .txt/.md rendering, parsing), `prompts` (what the model is asked),
`drafting` (the streaming, cancellable pipeline over any chat model), `engine` (hearth.llm's
model as that chat model), `note` (the note being edited, in memory only). `divisions`, `rouge`
and `evaluate` score notes the way ACI-Bench does; `cli` holds `python -m hearth draft-notes`
and `eval-notes`.
"""
