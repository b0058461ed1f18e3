"""Choosing the next token from the model's logits, with Hugging Face `generate`'s semantics.

    sampler = Sampler(temperature=0.7, top_p=0.9, repetition_penalty=1.1, seed=42)
    next_id = sampler.pick(logits, previous=ids_so_far)

The steps run in transformers' order: repetition penalty, then (when sampling) temperature, top-k,
top-p, softmax, one draw. Temperature 0 means greedy: the highest logit after the repetition
penalty, as `do_sample=False` does. The draw is one uniform number from a seeded PCG64 stream,
turned into a token by the cumulative distribution, so the same seed picks the same tokens on
CPython and in Pyodide (numpy's higher-level samplers may change between numpy versions; PCG64's
`random()` does not).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


class SamplingError(ValueError):
    """Bad sampling settings or logits; the message says which and what is allowed."""


class Sampler:
    def __init__(
        self,
        temperature: float = 0.0,
        top_k: int = 0,
        top_p: float = 1.0,
        repetition_penalty: float = 1.0,
        seed: int | None = None,
    ) -> None:
        if not temperature >= 0:
            raise SamplingError(f"temperature must be 0 (greedy) or more, not {temperature}.")
        if int(top_k) != top_k or top_k < 0:
            raise SamplingError(f"top_k must be a whole number, 0 meaning no limit; got {top_k}.")
        if not 0 < top_p <= 1:
            raise SamplingError(f"top_p must be in (0, 1], 1 meaning no nucleus cut; got {top_p}.")
        if not repetition_penalty > 0:
            raise SamplingError(f"repetition_penalty must be above 0 (1 means none); got {repetition_penalty}.")
        self.temperature = float(temperature)
        self.top_k = int(top_k)
        self.top_p = float(top_p)
        self.repetition_penalty = float(repetition_penalty)
        self.seed = seed
        self._rng = np.random.Generator(np.random.PCG64(seed))

    def __repr__(self) -> str:
        return (f"Sampler(temperature={self.temperature}, top_k={self.top_k}, top_p={self.top_p}, "
                f"repetition_penalty={self.repetition_penalty}, seed={self.seed})")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    def scores(self, logits: np.ndarray, previous: Sequence[int] = ()) -> np.ndarray:
        """The logits after every step before the draw (float64); tokens ruled out are -inf."""
        scores = _as_scores(logits)
        if self.repetition_penalty != 1.0 and len(previous):
            seen = np.unique(np.asarray(previous, dtype=np.int64))
            if seen[0] < 0 or seen[-1] >= scores.size:
                raise SamplingError(f"previous holds token ids outside 0..{scores.size - 1}.")
            s = scores[seen]
            scores[seen] = np.where(s < 0, s * self.repetition_penalty, s / self.repetition_penalty)
        if self.greedy:
            return scores
        scores /= self.temperature
        if self.top_k and self.top_k < scores.size:
            # Keep everything at least as high as the k-th highest (ties at the edge all stay, as in transformers).
            kth = np.partition(scores, scores.size - self.top_k)[scores.size - self.top_k]
            scores[scores < kth] = -np.inf
        if self.top_p < 1.0:
            order = np.argsort(scores, kind="stable")  # ascending
            ranked = scores[order]
            probs = np.exp(ranked - ranked[-1])
            cumulative = np.cumsum(probs / probs.sum())
            drop = cumulative <= 1.0 - self.top_p
            drop[-1] = False  # keep at least the most likely token
            scores[order[drop]] = -np.inf
        return scores

    def probabilities(self, logits: np.ndarray, previous: Sequence[int] = ()) -> np.ndarray:
        """The distribution `pick` draws from (one-hot when greedy)."""
        scores = self.scores(logits, previous)
        if self.greedy:
            out = np.zeros_like(scores)
            out[int(np.argmax(scores))] = 1.0
            return out
        probs = np.exp(scores - scores.max())
        return probs / probs.sum()

    def pick(self, logits: np.ndarray, previous: Sequence[int] = (),
             restrict: Callable[[np.ndarray, bool], None] | None = None) -> int:
        """The next token id. `restrict(scores, greedy)`, when given, sets the scores of tokens that must
        not come next to -inf (in place) before the choice (`grounding.NumberGuard.restrict`)."""
        scores = self.scores(logits, previous)
        if restrict is not None:
            restrict(scores, self.greedy)
        if self.greedy:
            return int(np.argmax(scores))
        kept = np.flatnonzero(scores > -np.inf)
        weights = np.exp(scores[kept] - scores[kept].max())
        cumulative = np.cumsum(weights)
        u = self._rng.random() * cumulative[-1]
        return int(kept[min(int(np.searchsorted(cumulative, u, side="right")), kept.size - 1)])


def _as_scores(logits: np.ndarray) -> np.ndarray:
    scores = np.array(logits, dtype=np.float64).reshape(-1) if np.ndim(logits) != 1 else np.array(logits, np.float64)
    if np.ndim(logits) > 1 and np.prod(np.shape(logits)[:-1]) != 1:
        raise SamplingError(
            f"logits have shape {np.shape(logits)}; pass the last position's logits only (one row of vocab size)."
        )
    if scores.size == 0:
        raise SamplingError("logits are empty.")
    if np.isnan(scores).any() or not (scores > -np.inf).any():
        raise SamplingError("logits contain NaN or are all -inf; the model produced invalid output.")
    return scores
