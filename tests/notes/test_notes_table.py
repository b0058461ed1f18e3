"""bench/notes_table.py: the README's ACI-Bench tables come out of eval-notes' own numbers."""

from __future__ import annotations

import sys
from pathlib import Path

from hearth.notes.evaluate import evaluate_files

REPO = Path(__file__).resolve().parents[2]
SUBSET = REPO / "tests" / "fixtures" / "aci-bench"


def test_the_table_rows_are_eval_notes_scores_of_the_baselines_and_the_clinicians_notes(capsys):
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import notes_table
    finally:
        sys.path.remove(str(REPO / "bench"))
    notes_table.main(["--gold", str(SUBSET / "valid.csv")])
    printed = capsys.readouterr().out
    rouge_table = printed.split("\n\n")[1]
    rows = {line.split(" | ")[0].strip("| "): line for line in rouge_table.splitlines() if line.startswith("| ")}
    baseline = evaluate_files(SUBSET / "valid.csv", SUBSET / "baseline-predictions" / "12_speaker_turns_valid.csv")
    line = rows["authors' baseline: the 12 longest speaker turns"]
    assert line.split(" | ")[1] == f"{100 * baseline['ALL']['rouge1']:.2f}"
    clinicians = [r for r in printed.splitlines() if r.startswith("| the clinicians' own notes")]
    assert len(clinicians) == 1  # in the grounding table only: ROUGE of a note against itself says nothing
    assert clinicians[0].split(" | ")[4] == "0.00"  # missed facts: none, it is the reference
    assert f"valid, {baseline['num_test']} visits" in printed
