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
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hearth.notes.divisions import DIVISIONS, split_divisions
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


def evaluate_notes(
    references: Sequence[str], predictions: Sequence[str], datasets: Sequence[str] | None = None
) -> dict[str, object]:
    """ROUGE F-measures averaged over notes: "ALL" (whole notes), "division-<name>" for the four divisions,
    and "dataset-<name>" (whole notes) when `datasets` names each note's subset."""
    if len(references) != len(predictions):
        raise NotesFileError(f"{len(references)} reference notes but {len(predictions)} predictions.")
    if not references:
        raise NotesFileError("There are no notes to score.")
    gold, pred = division_texts(references), division_texts(predictions)
    whole = rouge_f1(references, predictions)
    result: dict[str, object] = {"num_test": len(references), "ALL": _mean(whole)}
    for division in DIVISIONS:
        result[f"division-{division}"] = _mean(rouge_f1(gold[division], pred[division]))
    if datasets is not None:
        for name in dict.fromkeys(datasets):
            result[f"dataset-{name}"] = _mean([s for s, d in zip(whole, datasets, strict=True) if d == name])
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
    return evaluate_notes([g["note"] for g in gold], [as_read_by_pandas(p["note"]) for p in pred], datasets)
