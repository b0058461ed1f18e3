"""ROUGE exactly as ACI-Bench reports it: Google's `rouge-score` package (0.1.2), called the way
Hugging Face `evaluate`'s "rouge" metric calls it in the benchmark's `evaluate_fullnote.py`:
no stemming, the default tokenizer (lower-case, runs of [a-z0-9]), F-measure per note.
rougeLsum treats each line as a sentence. The paper's "ROUGE-L" column is rougeLsum.

CPython only (evaluation is a command-line job); imported lazily so the browser never needs it.
"""

from __future__ import annotations

from collections.abc import Sequence

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")


class RougeUnavailableError(RuntimeError):
    pass


def _scorer():  # noqa: ANN202 - rouge_score has no type hints
    try:
        from rouge_score import rouge_scorer
    except ImportError as error:
        raise RougeUnavailableError(
            "Scoring notes needs the rouge-score package: pip install rouge-score==0.1.2"
        ) from error
    return rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=False)


def rouge_f1(references: Sequence[str], predictions: Sequence[str]) -> list[dict[str, float]]:
    """Per-pair F-measures of every ROUGE type."""
    if len(references) != len(predictions):
        raise ValueError(f"{len(references)} references but {len(predictions)} predictions")
    scorer = _scorer()
    out = []
    for reference, prediction in zip(references, predictions, strict=True):
        scores = scorer.score(reference, prediction)
        out.append({kind: float(scores[kind].fmeasure) for kind in ROUGE_TYPES})
    return out
