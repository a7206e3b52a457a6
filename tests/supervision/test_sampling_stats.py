"""Statistical checks of the inclusion probabilities (fixed seeds, so deterministic).

Over R independent draws each unit's empirical inclusion frequency f must be within
``4.5 * sqrt(pi * (1 - pi) / R)`` of its planned pi (a binomial tolerance: with 50 units a
correct method fails this with probability ~3e-4 per seed). ``draw`` passes; numpy's
``choice(replace=False, p=...)`` fails the same check on the same weights, which is why the
service does not use it.
"""

from __future__ import annotations

import pytest

import numpy as np
import pandas as pd
from numpy.random import PCG64, Generator

from supervision.sampling.method import draw, inclusion_probabilities, stratified_draw

pytestmark = pytest.mark.slow  # tens of thousands of draws

R = 20_000
N = 50
n = 10
# very unequal weights (ratio 1 : 55), none large enough to be capped
WEIGHTS = np.exp(np.linspace(0.0, 4.0, N))


def tolerance(pi: np.ndarray, runs: int) -> np.ndarray:
    return 4.5 * np.sqrt(pi * (1 - pi) / runs) + 1e-12


def frequencies(select, size: int, runs: int) -> np.ndarray:
    counts = np.zeros(size)
    for _ in range(runs):
        chosen = select()
        counts[chosen] += 1
    return counts / runs


def test_planned_probabilities_are_unequal_and_uncapped():
    pi = inclusion_probabilities(WEIGHTS, n)
    assert np.isclose(pi.sum(), n)
    assert pi.max() < 1 and pi.max() / pi.min() > 50
    assert np.allclose(pi, n * WEIGHTS / WEIGHTS.sum())


def test_systematic_pps_draw_realises_the_planned_inclusion_probabilities():
    pi = inclusion_probabilities(WEIGHTS, n)
    rng = Generator(PCG64(20261122))
    sizes = set()

    def select():
        chosen = draw(pi, rng)
        sizes.add(len(chosen))
        return chosen

    f = frequencies(select, N, R)
    assert sizes == {n}
    deviation = np.abs(f - pi)
    assert (deviation <= tolerance(pi, R)).all(), (
        f"worst unit {int(np.argmax(deviation / tolerance(pi, R)))}: "
        f"f={f[np.argmax(deviation)]:.4f} pi={pi[np.argmax(deviation)]:.4f}"
    )


def test_numpy_choice_without_replacement_fails_the_same_check():
    pi = inclusion_probabilities(WEIGHTS, n)
    rng = Generator(PCG64(20261122))
    p = pi / pi.sum()
    f = frequencies(lambda: rng.choice(N, size=n, replace=False, p=p), N, R)
    outside = np.abs(f - pi) > tolerance(pi, R)
    # successive sampling: the largest units are drawn too rarely, the smallest too often
    assert outside.sum() >= 10
    assert f[-1] < pi[-1] - 0.05
    assert f[0] > pi[0]


def test_capped_probabilities_are_realised_too():
    weights = np.concatenate(([500.0, 200.0], np.linspace(1.0, 10.0, 28)))
    pi = inclusion_probabilities(weights, 6)
    assert pi[0] == 1.0 and pi[1] == 1.0 and pi[2:].max() < 1
    rng = Generator(PCG64(7))
    runs = 10_000
    f = frequencies(lambda: draw(pi, rng), weights.size, runs)
    assert f[0] == 1.0 and f[1] == 1.0
    assert (np.abs(f - pi) <= tolerance(pi, runs)).all()


def test_stratified_draw_realises_its_reported_probabilities():
    """End to end: over many seeds, each object's inclusion frequency matches the pi that
    stratified_draw reports for it (risk-weighted, capped at max_inclusion)."""
    population = pd.DataFrame(
        {
            "id": np.arange(24),
            "stratum": ["a"] * 14 + ["b"] * 10,
            "risk": [6.0, 3.0, 1.0, 0.0] * 3 + [0.0, 0.0] + [4.0, 0.0] * 5,
        }
    )
    runs = 1000
    counts = np.zeros(24)
    reported = np.full(24, np.nan)
    for seed in range(runs):
        result = stratified_draw(population, seed=seed, ratio=0.25, risk_factor=1.0)
        ids = result.sample["id"].to_numpy()
        counts[ids] += 1
        reported[ids] = result.sample["pi"].to_numpy()
    assert not np.isnan(reported).any()
    f = counts / runs
    assert reported.max() <= 0.9
    assert (np.abs(f - reported) <= tolerance(reported, runs)).all()
