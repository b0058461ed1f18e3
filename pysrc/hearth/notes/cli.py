"""`python -m hearth draft-notes` and `python -m hearth eval-notes`.

draft-notes runs the same pipeline as the browser's Notes page (transcript checks, prompts,
streaming drafter) over every `dialogue` row of a CSV, writing ACI-Bench's layout (dataset,
encounter_id, dialogue, note) one row at a time, so eval-notes can score it and a long run can be
watched; it drafts with the note model (the built-in one until an adapter is trained) unless --model
names another. eval-notes prints the
benchmark's ROUGE as JSON and, when either CSV has the transcripts (a `dialogue` column), the
grounding check under "facts": unsupported facts per note and their share of the drafts' facts, and
missed facts per note; with --model it first drafts its --pred from --gold's dialogues.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
import time
from pathlib import Path

from hearth.llm.files.builtin_models import note_adapter, note_adapter_root
from hearth.notes.drafting import DraftOptions, NoteDrafter, SectionFinished
from hearth.notes.engine import EngineModel
from hearth.notes.evaluate import NotesFileError, evaluate_files
from hearth.notes.facts import LexiconUnavailableError
from hearth.notes.formats import FORMATS, get_format
from hearth.notes.note import Note
from hearth.notes.transcript import TranscriptError, read_transcript_csv, transcript_from_text

MODEL_HELP = ("'note' (the note model: the built-in model with models/note-adapter/ merged in), 'smollm2' (the "
              "built-in model) or a model directory")


def drafting_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", default="aci", choices=sorted(FORMATS), help="note format (default: aci)")
    parser.add_argument("--limit", type=int, default=None, help="draft only the first N rows")
    parser.add_argument("--context", type=int, default=None, help="use at most this many tokens of context")
    parser.add_argument("--repetition-penalty", type=float, default=1.0, help="> 1 discourages loops (default 1.0)")
    parser.add_argument("--any-numbers", action="store_true",
                        help="let the model write numbers the transcript does not state (by default it may not)")


def register(subparsers: argparse._SubParsersAction) -> None:
    draft = subparsers.add_parser("draft-notes", help="draft a clinical note for every dialogue row of a CSV")
    draft.add_argument("--model", default=None,
                       help=MODEL_HELP + " (default: note when its adapter is there, else smollm2)")
    draft.add_argument("--data", required=True, type=Path, help="CSV with a 'dialogue' column")
    draft.add_argument("--out", required=True, type=Path,
                       help="CSV to write (dataset, encounter_id, dialogue, note, seconds)")
    drafting_options(draft)
    draft.set_defaults(run=run_draft_notes)

    score = subparsers.add_parser(
        "eval-notes", help="ROUGE of drafted notes against reference notes, as ACI-Bench, and their facts' grounding"
    )
    score.add_argument("--gold", required=True, type=Path, help="CSV with the reference 'note' column")
    score.add_argument("--pred", required=True, type=Path, help="CSV with the drafted 'note' column, same row order "
                       "(with --model: written first, by drafting every gold dialogue)")
    score.add_argument("--model", default=None, help="draft --pred from --gold's dialogues with this model first: "
                       + MODEL_HELP)
    drafting_options(score)
    score.set_defaults(run=run_eval_notes)


def run_eval_notes(args: argparse.Namespace) -> int:
    if args.model is not None:
        if args.limit is not None:
            print("eval-notes: --limit drafts only some visits, and every gold visit needs its draft; "
                  "make a shorter gold CSV instead", file=sys.stderr)
            return 2
        drafted = run_draft_notes(argparse.Namespace(**{**vars(args), "data": args.gold, "out": args.pred}))
        if drafted:
            return drafted
    try:
        result = evaluate_files(args.gold, args.pred)
    except (NotesFileError, LexiconUnavailableError) as error:
        print(f"eval-notes: {error}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2))
    return 0


async def draft_rows(drafter: NoteDrafter, args: argparse.Namespace) -> int:
    fmt = get_format(args.format)
    rows = read_transcript_csv(args.data.read_bytes(), args.data.name)
    if args.limit is not None:
        rows = rows[: args.limit]
    failed = 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=["dataset", "encounter_id", "dialogue", "note", "seconds"])
        writer.writeheader()
        for row in rows:
            source = row.fields  # dataset / encounter_id are copied to the output for eval-notes
            started = time.perf_counter()
            try:
                note = Note(fmt, transcript_from_text(row.dialogue, f"{args.data.name}, {row.label}"))
                parts = 0
                async for event in drafter.draft(note):
                    if isinstance(event, SectionFinished):
                        parts += 1
                text = note.to_text()
                status = f"{parts} sections"
            except TranscriptError as error:
                failed += 1
                text, status = "", f"skipped: {error}"
            seconds = time.perf_counter() - started
            writer.writerow(
                {
                    "dataset": source.get("dataset", ""),
                    "encounter_id": source.get("encounter_id", ""),
                    "dialogue": row.dialogue,
                    "note": text,
                    "seconds": f"{seconds:.1f}",
                }
            )
            out.flush()
            print(f"{row.label} ({row.index + 1}/{len(rows)}): {status}, {seconds:.1f} s", file=sys.stderr)
    return 1 if failed else 0


def default_model() -> str:
    """The note model when its adapter is there; until one is trained, the built-in model, saying so."""
    if note_adapter() is not None:
        return "note"
    print(f"draft-notes: no note model adapter at {note_adapter_root()} (models/finetune_notes.py makes one); "
          "drafting with the built-in model", file=sys.stderr)
    return "smollm2"


def run_draft_notes(args: argparse.Namespace) -> int:
    async def main() -> int:
        model = await EngineModel.load(args.model or default_model())
        drafter = NoteDrafter(model, DraftOptions(context_limit=args.context, repetition_penalty=args.repetition_penalty,
                                                ground_numbers=not args.any_numbers))
        return await draft_rows(drafter, args)

    try:
        return asyncio.run(main())
    except (ValueError, RuntimeError, OSError) as error:  # bad input, no engine, no model files
        print(f"draft-notes: {error}", file=sys.stderr)
        return 2
