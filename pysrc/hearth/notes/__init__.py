"""Clinical note drafting: a visit transcript in, a structured note out, all on this device.

The package owns everything about a note but its look: reading and checking a transcript, the note
formats and their .txt/.md text, what the model is asked, the streaming drafting pipeline, the note
being edited, and scoring notes the way ACI-Bench does. Modules, in the order data flows through them:

    transcript      load and check a transcript (pasted, .txt, a .csv row); its speaker turns
    formats         the note formats, .txt/.md rendering, parsing a note back into sections
    prompts         the chat messages a model is asked, and the clean-up of its answers
    section_stream  the filter a section's text streams through (headings, preambles, loops)
    speed           how fast the model reads and writes, measured while drafting
    drafting        the pipeline over any chat model: the plan, the events, the drafter
    engine          hearth.llm's model as the drafter's chat model
    note            the note being drafted and edited, in memory only
    divisions, rouge, evaluate   scoring notes as ACI-Bench does
    cli             `python -m hearth draft-notes` and `eval-notes`

What it may import: the standard library and its own modules, so the pipeline runs (and is tested)
without a model, a browser or Panel. Three exceptions: `engine` imports `hearth.llm` inside its
functions, only once a model is loaded or used; `rouge` imports the rouge-score package (CPython
only) when notes are scored; `evaluate` uses numpy. It never imports `hearth.app`: the pipeline
hands out data, and the UI (`hearth.app.notes_page`) words it.
"""
