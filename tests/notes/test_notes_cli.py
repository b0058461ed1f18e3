"""draft-notes writes ACI-Bench's layout row by row (here with the scripted model: the command's
plumbing is under test), and eval-notes scores what it wrote."""

from __future__ import annotations

import argparse
import asyncio
import csv
import json

from notes_scripted_model import ScriptedModel

from hearth.__main__ import main
from hearth.notes.cli import draft_rows
from hearth.notes.drafting import NoteDrafter
from hearth.notes.formats import ACI, SOAP


def test_both_commands_are_registered(capsys):
    try:
        main(["--help"])
    except SystemExit:
        pass
    out = capsys.readouterr().out
    assert "draft-notes" in out and "eval-notes" in out


def _write_rows(path, rows):
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["dataset", "encounter_id", "dialogue", "note"])
        writer.writeheader()
        writer.writerows(rows)


def _read_rows(path):
    limit = csv.field_size_limit(1 << 24)  # the long dialogue is one big field
    try:
        with path.open(newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    finally:
        csv.field_size_limit(limit)


def test_draft_notes_drafts_every_row_and_skips_bad_ones_with_the_reason(tmp_path, capsys, valid_rows):
    rows = [dict(r) for r in valid_rows[:3]]
    rows.append({**valid_rows[3], "encounter_id": "TOO-LONG", "dialogue": "[doctor] hello .\n" * 12_000})
    data, out = tmp_path / "in.csv", tmp_path / "out" / "pred.csv"
    _write_rows(data, rows)
    args = argparse.Namespace(data=data, out=out, format="aci", limit=None, context=None)

    code = asyncio.run(draft_rows(NoteDrafter(ScriptedModel(ACI)), args))

    assert code == 1  # one row could not be drafted
    log = capsys.readouterr().err
    assert "row 4 (TOO-LONG) (4/4): skipped: in.csv, row 4 (TOO-LONG) is 204,000 characters long" in log
    written = _read_rows(out)
    assert [w["encounter_id"] for w in written] == [r["encounter_id"] for r in rows]
    assert [w["dialogue"] for w in written] == [r["dialogue"] for r in rows]
    for w in written[:3]:
        assert [line for line in w["note"].split("\n") if line in {s.heading for s in ACI.sections}] == [
            s.heading for s in ACI.sections
        ]
    assert written[3]["note"] == ""

    assert main(["eval-notes", "--gold", str(data), "--pred", str(out)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["num_test"] == 4
    assert {"ALL", "division-subjective", "division-assessment_and_plan", "dataset-virtassist"} <= set(result)


def test_draft_notes_limit_and_format(tmp_path, capsys, valid_rows):
    data, out = tmp_path / "in.csv", tmp_path / "pred.csv"
    _write_rows(data, valid_rows[:3])
    args = argparse.Namespace(data=data, out=out, format="soap", limit=1, context=None)
    assert asyncio.run(draft_rows(NoteDrafter(ScriptedModel(SOAP)), args)) == 0
    (only,) = _read_rows(out)
    assert only["note"].startswith("SUBJECTIVE\n\n") and "\n\nPLAN\n\n" in only["note"]


def test_the_note_model_is_the_default_and_its_absence_is_explained(tmp_path, capsys, monkeypatch, valid_rows):
    from hearth.notes.cli import default_model

    monkeypatch.setenv("HEARTH_NOTE_ADAPTER", str(tmp_path / "no-adapter-here"))
    assert default_model() == "smollm2"  # until an adapter is trained, drafting goes on with the built-in model
    assert "no note model adapter at" in capsys.readouterr().err
    data, out = tmp_path / "in.csv", tmp_path / "pred.csv"
    _write_rows(data, [dict(valid_rows[0])])
    assert main(["draft-notes", "--model", "note", "--data", str(data), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "no note model adapter at" in err and "no-adapter-here" in err and "models/finetune_notes.py" in err
    assert main(["eval-notes", "--gold", str(data), "--pred", str(out), "--model", "note"]) == 2
    assert "no note model adapter at" in capsys.readouterr().err
    assert main(["eval-notes", "--gold", str(data), "--pred", str(out), "--model", "smollm2", "--limit", "1"]) == 2
    assert "every gold visit needs its draft" in capsys.readouterr().err
