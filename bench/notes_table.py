"""The README's ACI-Bench tables from one command: draft a note per visit with each model, score, print.

    .venv/bin/python bench/notes_table.py --gold VALID.csv --model smollm2 [--model note] [--model note+any-numbers] [--limit N]

Each `--model` (what `python -m hearth draft-notes --model` takes; "+any-numbers" adds that flag) drafts
every visit of `--gold` with the Notes page's pipeline (greedy, ACI sections) into
bench/results/notes-<model>-<gold>.csv, which is reused while it holds every visit asked for (delete it to
draft again). The rows: each model, the authors' three copy baselines (the gold file's
`baseline-predictions/` folder, when it is there) and the clinicians' own notes. Printed: the ROUGE table
(whole note and divisions, F1 × 100) and the grounding table (facts per note, unsupported and missed,
repeated lines, seconds per visit), as markdown for README.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from harness import REPO, RESULTS
from hearth.notes.evaluate import as_read_by_pandas, evaluate_notes, read_notes_csv

BASELINES = {
    "transcript": "authors' baseline: the whole transcript",
    "12_speaker_turns": "authors' baseline: the 12 longest speaker turns",
    "longest_speaker_turn": "authors' baseline: the longest speaker turn",
}
DIVISIONS = ["subjective", "objective_exam", "objective_results", "assessment_and_plan"]


def draft(model: str, gold: Path, limit: int | None) -> Path:
    """The model's drafts of the first `limit` visits, drafted now unless a complete file is there.
    `model` is what draft-notes takes, or that plus "+any-numbers" (drafted with --any-numbers)."""
    model, _, option = model.partition("+")
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(model).name) + (f"+{option}" if option else "")
    out = RESULTS / f"notes-{name}-{gold.stem}.csv"
    wanted = len(read_notes_csv(gold)[:limit])
    if out.is_file() and len(read_notes_csv(out)) >= wanted:
        return out
    RESULTS.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "hearth", "draft-notes", "--model", model, "--data", str(gold),
               "--out", str(out)] + ([] if limit is None else ["--limit", str(limit)]) + ([f"--{option}"] if option else [])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "pysrc"), os.environ.get("PYTHONPATH", "")])}
    print("$ " + " ".join(command), file=sys.stderr)
    subprocess.run(command, check=True, env=env)
    return out


def score(gold_rows: Sequence[dict[str, str]], pred_rows: Sequence[dict[str, str]]) -> dict[str, object]:
    if len(pred_rows) < len(gold_rows):
        raise SystemExit(f"{len(pred_rows)} predictions for {len(gold_rows)} visits")
    pred_rows = pred_rows[: len(gold_rows)]
    result = evaluate_notes([g["note"] for g in gold_rows], [as_read_by_pandas(p["note"]) for p in pred_rows],
                            transcripts=[g["dialogue"] for g in gold_rows])
    seconds = [float(p["seconds"]) for p in pred_rows if p.get("seconds")]
    result["seconds_per_visit"] = sum(seconds) / len(seconds) if len(seconds) == len(pred_rows) else None
    return result


def tables(rows: Sequence[tuple[str, dict]]) -> str:
    rouge = ["| predictions | ROUGE-1 | ROUGE-2 | ROUGE-L | ROUGE-Lsum | subjective R-1 | exam R-1 | results R-1 "
             "| assessment & plan R-1 |", "|---|---|---|---|---|---|---|---|---|"]
    facts = ["| drafts | facts per note | unsupported per note | unsupported share | missed per note | missed share "
             "| repeated lines per note | seconds per visit |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for label, r in rows:
        whole = r["ALL"]
        if label != "the clinicians' own notes":
            cells = [whole["rouge1"], whole["rouge2"], whole["rougeL"], whole["rougeLsum"]]
            cells += [r[f"division-{d}"]["rouge1"] for d in DIVISIONS]
            rouge.append(f"| {label} | " + " | ".join(f"{100 * c:.2f}" for c in cells) + " |")
        f = r["facts"]
        seconds = r.get("seconds_per_visit")
        facts.append(f"| {label} | {f['draft_facts_per_note']:.2f} | {f['unsupported_per_note']:.2f} | "
                     f"{100 * f['unsupported_share']:.1f}% | {f['missed_per_note']:.2f} | {100 * f['missed_share']:.1f}% | "
                     f"{r['repeated_lines']['per_note']:.2f} | {'' if seconds is None else f'{seconds:.0f}'} |")
    return "\n".join(rouge) + "\n\n" + "\n".join(facts)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--gold", required=True, type=Path, help="ACI-Bench CSV with dialogue and note (e.g. valid.csv)")
    p.add_argument("--model", action="append", default=[], help="a draft-notes --model; repeat for more rows")
    p.add_argument("--label", action="append", default=[], help="the row label of each --model, in order")
    p.add_argument("--limit", type=int, default=None, help="only the first N visits")
    args = p.parse_args(argv)
    gold_rows = read_notes_csv(args.gold)[: args.limit]
    rows = []
    for i, model in enumerate(args.model):
        label = args.label[i] if i < len(args.label) else f"Hearth, {model}"
        rows.append((label, score(gold_rows, read_notes_csv(draft(model, args.gold, args.limit)))))
    for key, label in BASELINES.items():
        path = args.gold.parent / "baseline-predictions" / f"{key}_{args.gold.stem}.csv"
        if path.is_file():
            rows.append((label, score(gold_rows, read_notes_csv(path))))
    rows.append(("the clinicians' own notes", score(gold_rows, gold_rows)))
    print(f"ACI-Bench {args.gold.stem}, {len(gold_rows)} visits, F1 × 100:\n")
    print(tables(rows))


if __name__ == "__main__":
    main()
