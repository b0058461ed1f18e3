"""Our division splitter against the ACI-Bench authors' own split of every train and valid note."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from hearth.notes.divisions import DIVISIONS, division_spans, header_blocks, split_divisions
from tests.fixtures.aci_bench import FULL_VISITS

HASHES = json.loads((Path(__file__).parent / "fixtures" / "aci_division_hashes.json").read_text())["hashes"]


def _authors_style(note: str, division: str) -> str:
    """How the authors' published files join a division: all its header blocks, in order."""
    text = "".join(note[b.start : b.end] for b in header_blocks(note) if b.division == division)
    return text or f"{division}: #####EMPTY#####.\n"


def test_every_reference_note_splits_as_the_benchmark_authors_split_it(aci_rows):
    assert len(HASHES) == FULL_VISITS and {row["encounter_id"] for row in aci_rows} <= HASHES.keys()
    wrong = []
    for row in aci_rows:
        for division in DIVISIONS:
            digest = hashlib.sha256(_authors_style(row["note"], division).encode()).hexdigest()[:16]
            if digest != HASHES[row["encounter_id"]][division]:
                wrong.append((row["encounter_id"], division))
    assert wrong == []


def test_scoring_divisions_tile_each_note_from_its_start(aci_rows):
    for row in aci_rows:
        note = row["note"]
        spans = division_spans(note)
        assert spans[0].start == 0 and spans[-1].end == len(note)
        assert all(a.end == b.start for a, b in zip(spans, spans[1:], strict=False))
        assert len({s.division for s in spans}) == len(spans)


def test_header_rules_keep_the_benchmarks_quirks():
    note = "\n".join(
        [
            "Seen today.",  # text before any header counts as subjective
            "VITALS",  # not a header (only VITALS REVIEWED is): stays in subjective
            "BP 120/80",
            "OBJECTIVE",  # not a header either
            "Physical exam revealed a murmur.",  # a body line starting with a header phrase opens the exam
            "Impression is unclear.",  # lower-case impression is not a header
            "IMPRESSION",  # upper-case is: assessment and plan
            "Sinusitis.",
        ]
    )
    parts = split_divisions(note)
    assert parts["subjective"] == "Seen today.\nVITALS\nBP 120/80\nOBJECTIVE\n"
    assert parts["objective_exam"] == "Physical exam revealed a murmur.\nImpression is unclear.\n"
    assert parts["assessment_and_plan"] == "IMPRESSION\nSinusitis."
    assert "objective_results" not in parts


def test_colon_headers_count_without_the_colon_only_alone_on_their_line():
    assert set(split_divisions("CC\nplan for today is rest")) == {"subjective"}
    assert split_divisions("CC\nx\nPlan\ny")["assessment_and_plan"] == "Plan\ny"
    assert split_divisions("CC\nx\nplan: rest")["assessment_and_plan"] == "plan: rest"


def test_each_division_keeps_its_first_block_and_runs_to_the_next_kept_one():
    note = "CC:\nknee\nRESULTS\nx-ray\nHPI:\nlater history\nPLAN\nbrace"
    parts = split_divisions(note)
    assert parts["subjective"] == "CC:\nknee\n"
    assert parts["objective_results"] == "RESULTS\nx-ray\nHPI:\nlater history\n"  # the second subjective block
    assert parts["assessment_and_plan"] == "PLAN\nbrace"
