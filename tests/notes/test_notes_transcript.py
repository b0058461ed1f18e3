"""Loading transcripts: real ACI-Bench dialogues split into turns without losing a word, and bad
input answered with a message that says what was wrong and what to do."""

from __future__ import annotations

import re

import pytest

from hearth.notes.transcript import (
    MAX_TRANSCRIPT_CHARS,
    CsvRowError,
    EmptyTranscriptError,
    MissingDialogueColumnError,
    TranscriptError,
    TranscriptTooLongError,
    UnreadableFileError,
    UnsupportedFileError,
    load_transcript_file,
    read_transcript_csv,
    split_turns,
    tidy,
    transcript_from_text,
)
from tests.fixtures.aci_bench import read_rows

TAG = re.compile(r"^\s*\[(doctor|patient|patient_guest)\]", re.MULTILINE)
SPOKEN_TAG = re.compile(r"^\s*\[(?:doctor|patient|patient_guest)\][ \t]*\S", re.MULTILINE)  # a tag with words


def _letters(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def test_real_dialogues_split_into_one_turn_per_speaker_tag_and_keep_every_word(aci_rows):
    for row in aci_rows:
        dialogue = row["dialogue"]
        transcript = transcript_from_text(dialogue)
        assert len(transcript.turns) == len(SPOKEN_TAG.findall(dialogue)), row["encounter_id"]
        assert {t.speaker for t in transcript.turns} <= {"doctor", "patient", "patient's companion"}
        assert _letters("".join(t.text for t in transcript.turns)) == _letters(TAG.sub("", dialogue))
        assert transcript.text.split("\n")[0].startswith(("Doctor: ", "Patient: "))


def test_untagged_lines_continue_the_turn_above(aci_rows):
    d = next(r for r in aci_rows if "\nall right . any other question" in r["dialogue"])["dialogue"]
    turns = transcript_from_text(d).turns
    assert any("all right. any other question" in t.text and t.speaker for t in turns)


def test_other_ways_of_writing_speakers():
    turns = split_turns("Dr: hi , how are you ?\nPatient: fine . i do n't know\n  really\n\nPT - ok\nNurse: bp 120/80")
    assert [(t.speaker, t.text) for t in turns] == [
        ("doctor", "hi, how are you?"),
        ("patient", "fine. i don't know really"),
        ("patient", "ok"),
        ("nurse", "bp 120/80"),
    ]
    untagged = split_turns("Patient reports knee pain.\n\nNo fever.")
    assert [(t.speaker, t.text) for t in untagged] == [(None, "Patient reports knee pain."), (None, "No fever.")]
    assert tidy("i wan na go , ok ?  yes .") == "i wan na go, ok? yes."


@pytest.mark.parametrize("text", ["", "   \n\t\n", "\ufeff"])
def test_an_empty_transcript_says_to_paste_or_load_one(text):
    with pytest.raises(EmptyTranscriptError, match="is empty. Paste the visit transcript"):
        transcript_from_text(text)
    with pytest.raises(EmptyTranscriptError, match="visit.txt is empty"):
        load_transcript_file("visit.txt", text.encode())


def test_speaker_tags_without_words_are_not_a_transcript():
    with pytest.raises(EmptyTranscriptError, match="speaker tags but no words"):
        transcript_from_text("[doctor]\n[patient]\n")


def test_a_binary_file_is_refused_with_what_to_do_instead():
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00"
    with pytest.raises(UnreadableFileError, match=r"scan.txt does not look like a text file.*copy the text and paste"):
        load_transcript_file("scan.txt", png)
    with pytest.raises(UnreadableFileError, match="binary"):
        load_transcript_file("visits.csv", b"dialogue\n\x00\x01\x02")


def test_text_that_is_not_utf8_names_the_byte_and_the_fix():
    with pytest.raises(UnreadableFileError, match=r"not UTF-8 text \(byte 0xe9 at position 12.*Encoding: UTF-8"):
        load_transcript_file("visit.txt", "[doctor] caf\u00e9 ?".encode("cp1252"))


def test_utf8_and_utf16_files_with_byte_order_marks_load():
    text = "[doctor] how is the knee ?\r\n[patient] better \u2013 thanks .\r\n"
    for data in [text.encode("utf-8-sig"), text.encode("utf-16")]:
        t = load_transcript_file("visit.txt", data)
        assert t.text == "Doctor: how is the knee?\nPatient: better \u2013 thanks."
        assert t.source == "visit.txt"


def test_a_csv_without_a_dialogue_column_lists_the_columns_it_has():
    with pytest.raises(MissingDialogueColumnError, match=r"no 'dialogue' column \(its columns are 'id', 'text'\)"):
        load_transcript_file("visits.csv", b"id,text\n1,hello\n")


def test_a_csv_of_many_visits_asks_which_row(aci_bench):
    data = (aci_bench / "valid.csv").read_bytes()
    visits = len(read_rows(aci_bench / "valid.csv"))
    with pytest.raises(CsvRowError, match=f"holds {visits} visits, one per row. Choose the row"):
        load_transcript_file("valid.csv", data)
    with pytest.raises(CsvRowError, match=f"rows 1 to {visits}; there is no row {visits + 1}"):
        load_transcript_file("valid.csv", data, row=visits)
    rows = read_transcript_csv(data, "valid.csv")
    assert [r.label for r in rows[:2]] == ["row 1 (D2N068)", "row 2 (D2N069)"]
    third = load_transcript_file("valid.csv", data, row=2)
    assert third.source == "valid.csv, row 3 (D2N070)"
    assert third.turns[0].speaker == "doctor"
    one_row = b'Dialogue\n"[doctor] hi\n[patient] hello"\n'  # any case of the column name
    assert load_transcript_file("one.csv", one_row).text == "Doctor: hi\nPatient: hello"


def test_a_200000_character_transcript_is_refused_with_the_reason_and_the_way_forward(aci_rows):
    long_text = ("\n".join(r["dialogue"] for r in aci_rows) * 2)[:200_000]
    message = r"is 200,000 characters long, about 3\.7 hours of conversation.*up to 60,000 characters.*split it"
    with pytest.raises(TranscriptTooLongError, match="^The pasted text " + message):
        transcript_from_text(long_text)
    with pytest.raises(TranscriptTooLongError, match="^day.txt " + message):
        load_transcript_file("day.txt", long_text.encode())
    cell = long_text.replace('"', '""')
    with pytest.raises(TranscriptTooLongError, match=r"day.csv, row 1 \(D2N001\) is 200,000"):
        load_transcript_file("day.csv", f'encounter_id,dialogue\nD2N001,"{cell}"\n'.encode())


def test_a_long_visit_under_the_ceiling_is_accepted(aci_rows):
    text = "\n".join(r["dialogue"] for r in aci_rows)[: MAX_TRANSCRIPT_CHARS - 1]
    assert transcript_from_text(text).raw_chars == MAX_TRANSCRIPT_CHARS - 1


def test_other_file_types_are_named_with_what_hearth_reads():
    with pytest.raises(UnsupportedFileError, match=r"cannot read visit.pdf: it reads .txt transcripts and .csv"):
        load_transcript_file("visit.pdf", b"%PDF-1.7")


def test_every_transcript_error_is_a_value_error():
    assert issubclass(TranscriptError, ValueError)
