"""The sampler against hand-computed distributions and against transformers' own logits processors."""

from __future__ import annotations

import numpy as np
import pytest

from hearth.llm.model.sampling import Sampler, SamplingError

P = np.array([0.5, 0.3, 0.15, 0.05])
LOGITS = np.log(P) + 3.0  # any shift: softmax gives P back


def _kept(scores: np.ndarray) -> set[int]:
    return set(np.flatnonzero(np.isfinite(scores)).tolist())


def test_greedy_takes_the_highest_logit_after_the_repetition_penalty():
    assert Sampler().pick(np.array([0.1, 2.0, 1.9, -1.0]), previous=[]) == 1
    # 2.0 / 1.2 = 1.67 falls below 1.9; a negative logit is multiplied instead: -0.5 * 2 = -1.0 < -0.6
    assert Sampler(repetition_penalty=1.2).pick(np.array([0.1, 2.0, 1.9, -1.0]), previous=[1, 1, 3]) == 2
    assert Sampler(repetition_penalty=2.0).pick(np.array([-0.5, -0.6, -3.0]), previous=[0]) == 1
    # ties go to the first, as torch.argmax does; top-k/top-p play no part in greedy decoding
    assert Sampler(top_k=1, top_p=0.1).pick(np.array([1.0, 3.0, 3.0])) == 1


def test_repetition_penalty_values():
    scores = Sampler(repetition_penalty=2.0).scores(np.array([4.0, -4.0, 0.0, 1.0]), previous=[0, 1, 2, 0])
    assert scores.tolist() == [2.0, -8.0, 0.0, 1.0]


def test_top_k_keeps_the_k_highest_and_ties_at_the_edge():
    s = Sampler(temperature=1.0, top_k=2)
    assert _kept(s.scores(np.array([1.0, 3.0, 2.0, 0.0]))) == {1, 2}
    assert _kept(Sampler(temperature=1.0, top_k=1).scores(np.array([1.0, 2.0, 2.0, 0.0]))) == {1, 2}
    assert _kept(Sampler(temperature=1.0, top_k=10).scores(LOGITS)) == {0, 1, 2, 3}


def test_top_p_keeps_the_smallest_head_reaching_p():
    # ascending cumulative probabilities: 0.05, 0.20, 0.50, 1.00; drop those <= 1 - top_p
    assert _kept(Sampler(temperature=1.0, top_p=0.9).scores(LOGITS)) == {0, 1, 2}
    assert _kept(Sampler(temperature=1.0, top_p=0.7).scores(LOGITS)) == {0, 1}
    assert _kept(Sampler(temperature=1.0, top_p=0.45).scores(LOGITS)) == {0}
    assert _kept(Sampler(temperature=1.0, top_p=1e-6).scores(LOGITS)) == {0}  # always at least one


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"temperature": 1.0}, P),
        ({"temperature": 2.0}, np.sqrt(P) / np.sqrt(P).sum()),  # softmax(log p / 2) = sqrt(p), renormalized
        ({"temperature": 0.5}, P**2 / (P**2).sum()),
        ({"temperature": 1.0, "top_k": 2}, np.array([0.625, 0.375, 0, 0])),
        ({"temperature": 1.0, "top_p": 0.9}, np.array([0.5, 0.3, 0.15, 0]) / 0.95),
        ({"temperature": 1.0, "repetition_penalty": 1.5}, None),
    ],
)
def test_draw_frequencies_follow_the_distribution(settings, expected):
    sampler = Sampler(seed=1234, **settings)
    previous = [0]
    if expected is None:  # the penalty divides token 0's (positive) logit by 1.5
        shifted = LOGITS.copy()
        shifted[0] /= 1.5
        expected = np.exp(shifted) / np.exp(shifted).sum()
    assert np.allclose(sampler.probabilities(LOGITS, previous if "repetition_penalty" in settings else ()), expected)
    freqs = np.bincount([sampler.pick(LOGITS, previous if "repetition_penalty" in settings else ())
                         for _ in range(20000)], minlength=4) / 20000
    # 5 standard errors of a binomial proportion, at most 0.018 with 20,000 draws
    assert np.all(np.abs(freqs - expected) <= 5 * np.sqrt(expected * (1 - expected) / 20000) + 1e-12)


def test_a_seed_fixes_the_draws_through_one_pcg64_uniform_each():
    logits = np.random.default_rng(5).normal(size=500) * 3
    picks = [Sampler(temperature=0.8, top_k=50, seed=42).pick(logits) for _ in range(3)]
    assert picks[0] == picks[1] == picks[2]
    a, b = Sampler(temperature=0.8, seed=42), Sampler(temperature=0.8, seed=42)
    assert [a.pick(logits) for _ in range(50)] == [b.pick(logits) for _ in range(50)]
    assert [a.pick(logits) for _ in range(50)] != [Sampler(temperature=0.8, seed=43).pick(logits) for _ in range(50)]
    # The mechanism that makes it portable: draw k is the inverse CDF at PCG64(seed).random()'s k-th number.
    s = Sampler(temperature=0.8, seed=7)
    probs = s.probabilities(logits)
    uniforms = np.random.Generator(np.random.PCG64(7)).random(200)
    expected = [int(np.searchsorted(np.cumsum(probs), u * np.cumsum(probs)[-1], side="right")) for u in uniforms]
    assert [s.pick(logits) for _ in range(200)] == expected


@pytest.mark.parametrize("seed", range(6))
def test_scores_equal_transformers_logits_processors(seed):
    torch = pytest.importorskip("torch")
    gen = pytest.importorskip("transformers.generation.logits_process")
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=2000) * rng.uniform(0.5, 6)
    previous = rng.integers(0, 2000, size=300).tolist()
    for temperature, top_k, top_p, penalty in [(1.0, 0, 1.0, 1.3), (0.7, 40, 1.0, 1.0), (1.3, 0, 0.9, 1.1),
                                               (0.9, 100, 0.8, 1.2), (0.5, 5, 0.5, 1.0), (2.0, 0, 0.97, 1.0)]:
        ids = torch.tensor([previous])
        expected = torch.tensor(logits[None, :], dtype=torch.float64)
        expected = gen.RepetitionPenaltyLogitsProcessor(penalty)(ids, expected)
        expected = gen.TemperatureLogitsWarper(temperature)(ids, expected)
        if top_k:
            expected = gen.TopKLogitsWarper(top_k)(ids, expected)
        if top_p < 1.0:
            expected = gen.TopPLogitsWarper(top_p)(ids, expected)
        expected = expected[0].numpy()
        ours = Sampler(temperature, top_k, top_p, penalty).scores(logits, previous)
        assert _kept(ours) == _kept(expected)
        assert np.allclose(ours[np.isfinite(ours)], expected[np.isfinite(expected)], rtol=1e-12, atol=0)


def test_bad_settings_and_logits_are_refused():
    for kwargs in ({"temperature": -1}, {"top_k": -2}, {"top_k": 1.5}, {"top_p": 0}, {"top_p": 1.5},
                   {"repetition_penalty": 0}):
        with pytest.raises(SamplingError):
            Sampler(**kwargs)
    assert Sampler().pick(np.array([[0.0, 1.0, 0.5]])) == 1  # one row of logits is fine
    with pytest.raises(SamplingError, match="last position"):
        Sampler().pick(np.zeros((2, 3)))
    with pytest.raises(SamplingError, match="NaN"):
        Sampler(temperature=1.0).pick(np.array([0.0, np.nan]))
    with pytest.raises(SamplingError, match="outside"):
        Sampler(repetition_penalty=1.1).pick(np.zeros(3), previous=[3])
