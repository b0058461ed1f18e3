"""Score drafted notes against reference notes the way ACI-Bench's `evaluate_fullnote.py` does.

The benchmark's numbers carry the quirks of its script, and ours are only comparable if we keep them:

- Both CSVs are read with pandas defaults, so a note cell that is empty or spells a missing value
  ("NA", "N/A", "null", "nan", ...) becomes the string "nan".
- Each note is cut into its four divisions (`divisions.py`); inside a division, line breaks become
  the literal "__lf1__", which ROUGE's tokenizer reads as the word "lf1" (so division rougeL equals
  rougeLsum, and each line break counts as a matching word).
- A note without a division gets "#####EMPTY#####" there (read as the word "empty": two notes that
  both lack it score 1.0); but when NO note on one side has that division, that side gets "" for
  every note (scoring 0.0).
- Scores are means over notes of per-note F-measures; rows pair up by position.

Beside ROUGE, when the visit transcripts are known (a `dialogue` column), "facts" reports the
grounding check of `facts.py` over the drafts: facts in a draft the transcript does not support
(per note, and as a share of all the drafts' facts), and facts missed: in both the reference note
and the transcript, absent from the draft.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hearth.notes.divisions import DIVISIONS, split_divisions
from hearth.notes.facts import FactIndex, extract_facts
from hearth.notes.rouge import ROUGE_TYPES, rouge_f1

EMPTY_DIVISION = "#####EMPTY#####"
LINE_BREAK = "__lf1__"
# pandas.read_csv's default missing-value spellings (pandas 1.x-3.x).
PANDAS_NA = frozenset(
    "#N/A|#N/A N/A|#NA|-1.#IND|-1.#QNAN|-NaN|-nan|1.#IND|1.#QNAN|<NA>|N/A|NA|NULL|NaN|None|n/a|nan|null".split("|")
) | {""}


class NotesFileError(ValueError):
    pass


def read_notes_csv(path: str | Path) -> list[dict[str, str]]:
    """Rows of a CSV with a `note` column (ACI-Bench's layout: dataset, encounter_id, dialogue, note)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise NotesFileError(f"Cannot read {path}: {error.strerror}.") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise NotesFileError(f"{path} is not UTF-8 text; save it as UTF-8 CSV.") from None
    old_limit = csv.field_size_limit()
    csv.field_size_limit(max(old_limit, 64 * 1024 * 1024))
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        rows = list(reader)
        columns = reader.fieldnames or []
    except csv.Error as error:
        raise NotesFileError(f"{path} is not a readable CSV file ({error}).") from None
    finally:
        csv.field_size_limit(old_limit)
    if "note" not in columns:
        raise NotesFileError(f"{path} has no 'note' column (its columns: {', '.join(columns) or 'none'}).")
    return rows


def as_read_by_pandas(cell: str | None) -> str:
    return "nan" if cell is None or cell in PANDAS_NA else cell


def division_texts(notes: Sequence[str]) -> dict[str, list[str]]:
    """For each division, every note's text of it, as the benchmark feeds them to ROUGE."""
    found = []
    for note in notes:
        text = note.replace(LINE_BREAK, "\n")
        found.append({d: part.replace("\n", LINE_BREAK) for d, part in split_divisions(text).items()})
    columns: dict[str, list[str]] = {}
    for division in DIVISIONS:
        if any(division in parts for parts in found):
            columns[division] = [parts.get(division, EMPTY_DIVISION) for parts in found]
        else:
            columns[division] = [""] * len(notes)
    return columns


def _mean(scores: list[dict[str, float]]) -> dict[str, float]:
    # numpy's mean (pairwise summation), as the benchmark's script takes it: equal to the last bit.
    return {kind: float(np.mean([s[kind] for s in scores])) for kind in ROUGE_TYPES}


def fact_check_notes(references: Sequence[str], predictions: Sequence[str], transcripts: Sequence[str]) -> dict[str, object]:
    """The grounding check over notes: counts per note (means), shares over all notes' facts, and the
    unsupported facts by kind.

    "unsupported_share" is unsupported draft facts / all draft facts; "missed_share" is missed facts /
    the reference facts the transcript supports (the facts a draft could have got right).
    """
    if not len(references) == len(predictions) == len(transcripts):
        raise NotesFileError(
            f"{len(references)} reference notes, {len(predictions)} predictions, {len(transcripts)} transcripts."
        )
    drafted = unsupported = grounded = missed = 0
    by_kind: dict[str, int] = {}
    for reference, prediction, transcript in zip(references, predictions, transcripts, strict=True):
        source = FactIndex(extract_facts(transcript))
        draft_facts = extract_facts(prediction)
        drafted += len(draft_facts)
        for fact in draft_facts:
            if not source.supports(fact):
                unsupported += 1
                by_kind[fact.kind] = by_kind.get(fact.kind, 0) + 1
        in_draft = FactIndex(draft_facts)
        reference_facts = [f for f in extract_facts(reference) if source.supports(f)]
        grounded += len(reference_facts)
        missed += sum(not in_draft.supports(f) for f in reference_facts)
    notes = len(references)
    return {
        "draft_facts_per_note": drafted / notes,
        "unsupported_per_note": unsupported / notes,
        "unsupported_share": unsupported / drafted if drafted else 0.0,
        "reference_facts_in_transcript_per_note": grounded / notes,
        "missed_per_note": missed / notes,
        "missed_share": missed / grounded if grounded else 0.0,
        "unsupported_by_kind": dict(sorted(by_kind.items())),
    }


def repeated_lines(note: str) -> int:
    """Lines that repeat an earlier line of the same division (case, spacing and bullets aside; lines
    under four characters do not count), the measure of a draft that loops."""
    repeats = 0
    for part in split_divisions(note.replace(LINE_BREAK, "\n")).values():
        seen: set[str] = set()
        for line in part.splitlines():
            key = " ".join(line.lower().split()).strip("-*•#> ")
            if len(key) >= 4:
                repeats += key in seen
                seen.add(key)
    return repeats


def evaluate_notes(
    references: Sequence[str],
    predictions: Sequence[str],
    datasets: Sequence[str] | None = None,
    transcripts: Sequence[str] | None = None,
) -> dict[str, object]:
    """ROUGE F-measures averaged over notes: "ALL" (whole notes), "division-<name>" for the four divisions,
    and "dataset-<name>" (whole notes) when `datasets` names each note's subset; "repeated_lines" (see
    `repeated_lines`: per note, and how many notes have any); "facts" (see
    `fact_check_notes`) when `transcripts` gives each note's visit transcript."""
    if len(references) != len(predictions):
        raise NotesFileError(f"{len(references)} reference notes but {len(predictions)} predictions.")
    if not references:
        raise NotesFileError("There are no notes to score.")
    gold, pred = division_texts(references), division_texts(predictions)
    whole = rouge_f1(references, predictions)
    result: dict[str, object] = {"num_test": len(references), "ALL": _mean(whole)}
    repeats = [repeated_lines(p) for p in predictions]
    result["repeated_lines"] = {"per_note": sum(repeats) / len(repeats), "notes_with_any": sum(r > 0 for r in repeats)}
    for division in DIVISIONS:
        result[f"division-{division}"] = _mean(rouge_f1(gold[division], pred[division]))
    if datasets is not None:
        for name in dict.fromkeys(datasets):
            result[f"dataset-{name}"] = _mean([s for s, d in zip(whole, datasets, strict=True) if d == name])
    if transcripts is not None:
        result["facts"] = fact_check_notes(references, predictions, transcripts)
    return result


def evaluate_files(gold_path: str | Path, pred_path: str | Path) -> dict[str, object]:
    gold, pred = read_notes_csv(gold_path), read_notes_csv(pred_path)
    if len(gold) != len(pred):
        raise NotesFileError(f"{gold_path} has {len(gold)} notes but {pred_path} has {len(pred)}; they pair up by row.")
    for i, (g, p) in enumerate(zip(gold, pred, strict=True)):
        if g.get("encounter_id") and p.get("encounter_id") and g["encounter_id"] != p["encounter_id"]:
            raise NotesFileError(
                f"Row {i + 1}: {gold_path} has encounter {g['encounter_id']} but {pred_path} has {p['encounter_id']}; "
                "keep the predictions in the gold file's order."
            )
    datasets = [g["dataset"] for g in gold] if all(g.get("dataset") for g in gold) else None
    # The transcripts: the gold file's `dialogue` column, else the predictions' (draft-notes copies it).
    transcripts = next(
        ([row["dialogue"] for row in rows] for rows in (gold, pred) if all(row.get("dialogue") for row in rows)), None
    )
    predictions = [as_read_by_pandas(p["note"]) for p in pred]
    return evaluate_notes([g["note"] for g in gold], predictions, datasets, transcripts)
