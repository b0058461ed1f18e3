"""eval-notes against the reference: pandas reading, the `rouge-score` package and numpy's mean, the
way ACI-Bench's evaluate_fullnote.py combines them, on the authors' baseline predictions."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from rouge_score import rouge_scorer

from hearth.__main__ import main
from hearth.notes.divisions import DIVISIONS, split_divisions
from hearth.notes.evaluate import evaluate_notes
from tests.fixtures.aci_bench import read_rows

KINDS = ["rouge1", "rouge2", "rougeL", "rougeLsum"]


def _reference(gold_csv, pred_csv) -> dict:
    gold = pd.read_csv(gold_csv)
    pred = pd.read_csv(pred_csv)
    references = list(gold["note"])
    predictions = [str(p) for p in pred["note"]]
    scorer = rouge_scorer.RougeScorer(KINDS, use_stemmer=False)

    def mean(refs, preds):
        scores = [scorer.score(r, p) for r, p in zip(refs, preds, strict=True)]
        return {k: float(np.mean([s[k].fmeasure for s in scores])) for k in KINDS}

    out = {"num_test": len(references), "ALL": mean(references, predictions)}
    gold_parts = [split_divisions(r) for r in references]
    pred_parts = [split_divisions(p) for p in predictions]
    assert all(set(p) == {"subjective"} for p in pred_parts)  # the baselines are transcript text, no headers
    for division in DIVISIONS:
        refs = [p.get(division, "#####EMPTY#####").replace("\n", "__lf1__") for p in gold_parts]
        preds = (
            [p[division].replace("\n", "__lf1__") for p in pred_parts] if division == "subjective" else [""] * len(refs)
        )
        out[f"division-{division}"] = mean(refs, preds)
    for name in dict.fromkeys(gold["dataset"]):
        rows = [i for i, d in enumerate(gold["dataset"]) if d == name]
        out[f"dataset-{name}"] = mean([references[i] for i in rows], [predictions[i] for i in rows])
    return out


def _eval_cli(capsys, gold, pred) -> tuple[int, dict | str]:
    code = main(["eval-notes", "--gold", str(gold), "--pred", str(pred)])
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if code == 0 else captured.err)


@pytest.mark.parametrize(
    "baseline",
    [
        "longest_speaker_turn_valid.csv",
        "12_speaker_turns_valid.csv",
        pytest.param("transcript_valid.csv", marks=pytest.mark.slow),
    ],
)
def test_eval_notes_equals_rouge_score_on_the_authors_baselines(aci_bench, capsys, baseline):
    gold, pred = aci_bench / "valid.csv", aci_bench / "baseline-predictions" / baseline
    code, result = _eval_cli(capsys, gold, pred)
    assert code == 0
    facts = result.pop("facts")  # valid.csv has the transcripts: the grounding check is reported beside ROUGE
    result.pop("repeated_lines")  # tested on its own below
    assert result == _reference(gold, pred)  # every float, to the last bit
    assert facts["draft_facts_per_note"] > 0


def test_quirks_of_the_benchmark_script():
    gold = ["CHIEF COMPLAINT\n\nKnee pain.\n\nPHYSICAL EXAM\n\nSwollen knee.", "CHIEF COMPLAINT\n\nCough."]
    # Row 2 lacks an exam on both sides: "#####EMPTY#####" on both, which ROUGE counts as a match.
    pred = ["CHIEF COMPLAINT\n\nKnee pain.\n\nEXAM\n\nSwollen knee.", "CHIEF COMPLAINT\n\nCough."]
    result = evaluate_notes(gold, pred)
    # Row 1: "physical exam lf1 lf1 swollen knee" vs "exam lf1 lf1 swollen knee": P 5/5, R 5/6, F 10/11.
    assert result["division-objective_exam"]["rouge1"] == pytest.approx((10 / 11 + 1.0) / 2)
    # No prediction has results: that side is "" for every note, which never matches (not even "empty").
    assert result["division-objective_results"] == dict.fromkeys(KINDS, 0.0)
    # Inside a division line breaks are the word "lf1": rougeL and rougeLsum agree there.
    assert result["division-subjective"]["rougeL"] == result["division-subjective"]["rougeLsum"]
    assert result["ALL"]["rouge1"] < 1.0


def test_a_note_scored_against_itself_is_perfect_but_for_the_empty_division_bigram(aci_bench, capsys):
    gold = aci_bench / "valid.csv"
    valid_rows = read_rows(gold)
    code, result = _eval_cli(capsys, gold, gold)
    assert code == 0 and result["num_test"] == len(valid_rows)
    for key, scores in result.items():
        if key in ("num_test", "facts"):
            continue
        if key == "repeated_lines":  # the clinicians' notes repeat a problem's name now and then
            continue
        assert scores["rouge1"] == scores["rougeL"] == scores["rougeLsum"] == pytest.approx(1.0), key
        if key.startswith("division-"):
            # A note without the division reads "#####EMPTY#####": one word, so no bigram to match.
            having = sum(key[len("division-") :] in split_divisions(r["note"]) for r in valid_rows) / len(valid_rows)
            assert scores["rouge2"] == pytest.approx(having), key
        else:
            assert scores["rouge2"] == pytest.approx(1.0), key


def test_empty_or_missing_looking_predictions_read_as_nan_like_pandas(tmp_path, capsys):
    gold = tmp_path / "gold.csv"
    gold.write_text('encounter_id,note\nA,"CC:\n\nnan"\nB,"CC:\n\nnan"\n')
    pred = tmp_path / "pred.csv"
    pred.write_text("encounter_id,note\nA,\nB,N/A\n")
    code, result = _eval_cli(capsys, gold, pred)
    assert code == 0
    scorer = rouge_scorer.RougeScorer(["rouge1"], use_stemmer=False)
    assert result["ALL"]["rouge1"] == scorer.score("CC:\n\nnan", "nan")["rouge1"].fmeasure > 0


def test_bad_files_get_a_clear_message(tmp_path, capsys, aci_bench):
    gold = aci_bench / "valid.csv"
    no_note = tmp_path / "no_note.csv"
    no_note.write_text("encounter_id,summary\nD2N068,x\n")
    code, err = _eval_cli(capsys, gold, no_note)
    assert code == 2 and "has no 'note' column (its columns: encounter_id, summary)" in err
    code, err = _eval_cli(capsys, gold, aci_bench / "train.csv")
    visits = {split: len(read_rows(aci_bench / f"{split}.csv")) for split in ("valid", "train")}
    assert code == 2 and f"has {visits['valid']} notes but" in err and f"has {visits['train']}" in err
    shuffled = tmp_path / "shuffled.csv"
    rows = pd.read_csv(gold)
    rows.iloc[::-1].to_csv(shuffled, index=False)
    code, err = _eval_cli(capsys, gold, shuffled)
    assert code == 2 and "Row 1:" in err and "keep the predictions in the gold file's order" in err
    code, err = _eval_cli(capsys, gold, tmp_path / "missing.csv")
    assert code == 2 and "Cannot read" in err


# ---------------------------------------------------------------------------------------------------
# The grounding check beside ROUGE, on hand-made rows (no ACI-Bench needed)
# ---------------------------------------------------------------------------------------------------

FACT_ROWS = [
    {
        "encounter_id": "A",
        "dialogue": "[doctor] you're fifty six ? [patient] yes . [doctor] take lisinopril twenty milligrams for two weeks .",
        "note": "HPI\n\n56-year-old. Lisinopril 20 mg for 2 weeks.",
    },
    {
        "encounter_id": "B",
        "dialogue": "[doctor] your left knee is swollen . [patient] my blood pressure was one twenty over eighty .",
        "note": "EXAM\n\nLeft knee swollen. BP 120/80.",
    },
]
FACT_DRAFTS = [
    # 56-year-old, lisinopril, 2 weeks: supported; 40 mg: not. Missed: 20 mg.
    "HPI\n\n56-year-old on lisinopril 40 mg for 2 weeks.",
    # right knee and 2019-05-01: not supported; 120/80: supported. Missed: left knee.
    "EXAM\n\nRight knee swollen on 2019-05-01. BP 120/80.",
]


def test_fact_check_counts_unsupported_and_missed_facts():
    refs = [r["note"] for r in FACT_ROWS]
    result = evaluate_notes(refs, FACT_DRAFTS, transcripts=[r["dialogue"] for r in FACT_ROWS])
    assert result["facts"] == {
        "draft_facts_per_note": 7 / 2,
        "unsupported_per_note": 3 / 2,
        "unsupported_share": 3 / 7,
        "reference_facts_in_transcript_per_note": 6 / 2,
        "missed_per_note": 2 / 2,
        "missed_share": 2 / 6,
        "unsupported_by_kind": {"date": 1, "dose": 1, "side": 1},
    }
    # Without transcripts there is nothing to check against: ROUGE only.
    assert "facts" not in evaluate_notes(refs, FACT_DRAFTS)
    # A reference scored against itself misses nothing, and states nothing its transcript lacks.
    itself = evaluate_notes(refs, refs, transcripts=[r["dialogue"] for r in FACT_ROWS])["facts"]
    assert itself["unsupported_per_note"] == itself["missed_per_note"] == 0


def _write(path, rows, columns):
    import csv

    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows({c: row[c] for c in columns} for row in rows)


def test_eval_notes_reports_facts_from_either_files_transcripts(tmp_path, capsys):
    drafts = [dict(row, note=draft) for row, draft in zip(FACT_ROWS, FACT_DRAFTS, strict=True)]
    gold, pred = tmp_path / "gold.csv", tmp_path / "pred.csv"
    _write(gold, FACT_ROWS, ["encounter_id", "dialogue", "note"])
    _write(pred, drafts, ["encounter_id", "note"])
    code, from_gold = _eval_cli(capsys, gold, pred)
    assert code == 0 and from_gold["facts"]["unsupported_share"] == 3 / 7
    # draft-notes' output carries the dialogue: a gold file without it still gets the check.
    _write(gold, FACT_ROWS, ["encounter_id", "note"])
    _write(pred, drafts, ["encounter_id", "dialogue", "note"])
    code, from_pred = _eval_cli(capsys, gold, pred)
    assert code == 0 and from_pred["facts"] == from_gold["facts"]
    _write(pred, drafts, ["encounter_id", "note"])
    code, neither = _eval_cli(capsys, gold, pred)
    assert code == 0 and "facts" not in neither


def test_repeated_lines_count_repeats_within_a_division_not_across():
    from hearth.notes.evaluate import evaluate_notes, repeated_lines

    looping = ("CHIEF COMPLAINT\n\nKnee pain.\n\nHISTORY OF PRESENT ILLNESS\n\n- Ice\n- Antihistamine\n"
               "- antihistamine \n- Antihistamine\n\nASSESSMENT AND PLAN\n\nAntihistamine")
    assert repeated_lines(looping) == 2  # "- Ice" is too short to count; the plan's line is another division
    assert repeated_lines("CHIEF COMPLAINT\n\nKnee pain.") == 0
    result = evaluate_notes(["CHIEF COMPLAINT\n\nKnee pain."] * 2, [looping, "CHIEF COMPLAINT\n\nKnee pain."])
    assert result["repeated_lines"] == {"per_note": 1.0, "notes_with_any": 1}
