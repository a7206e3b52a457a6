"""composite_topsis against two independent TOPSIS implementations (pymcdm, scikit-criteria).

What each library does (read from their installed source, pymcdm 1.4.0, scikit-criteria 0.10):

* pymcdm ``TOPSIS(normalization_function=vector_normalization)``: a profit column becomes
  ``x / sqrt(sum x**2)``, a *cost* column ``1 - x / sqrt(sum x**2)``; then every column is
  treated as profit (ideal = column max, anti-ideal = column min of the weighted matrix).
  Since ``w * (1 - r) = w - w * r``, the distances are those of classical TOPSIS (ideal = min
  of ``w * r`` for a cost column), so the scores agree to rounding.
  Its input validation only warns (dominant / dominated alternatives, weights not summing to 1).
* scikit-criteria: ``VectorScaler(target="matrix")`` divides each column by its
  ``numpy.linalg.norm``; ``SumScaler(target="weights")`` divides the weights by their sum;
  ``TOPSIS()`` takes the ideal by objective (max or min of the weighted column), Euclidean
  distances by ``scipy.spatial.distance.cdist`` and ``d- / (d+ + d-)``. It warns whenever an
  objective is minimised.
* Where ``d+ + d- == 0`` (all alternatives identical) pymcdm returns NaN (0/0) and
  scikit-criteria refuses the result (its ranking of NaN is not a ranking: ValueError); where a
  column's norm is 0 pymcdm's normalisation gives NaN. ``composite_topsis`` returns 1.0 (each
  entry is the ideal) and normalises such a column to 0 (it separates nobody) instead: checked
  below and in test_scoring.py. Everywhere else the three agree to 1e-9.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import skcriteria as skc
from pymcdm import normalizations as pymcdm_normalizations
from pymcdm.methods import TOPSIS as PymcdmTOPSIS
from skcriteria.agg.topsis import TOPSIS as SkcTOPSIS
from skcriteria.pipelines import mkpipe
from skcriteria.preprocessing.scalers import SumScaler, VectorScaler

from ranking.scoring import IndicatorSpec, composite_topsis

TOL = 1e-9


def pymcdm_topsis(matrix, specs):
    weights = np.array([s.weight for s in specs], dtype=float)
    types = np.array([1 if s.direction == "higher" else -1 for s in specs])
    method = PymcdmTOPSIS(normalization_function=pymcdm_normalizations.vector_normalization)
    with warnings.catch_warnings():
        # dominant/dominated alternatives: a warning about possible numerical trouble only
        warnings.filterwarnings("ignore", "Alternatives with indices", UserWarning)
        return method(matrix, weights / weights.sum(), types)


def skcriteria_topsis(matrix, specs):
    objectives = [max if s.direction == "higher" else min for s in specs]
    weights = [s.weight for s in specs]
    dm = skc.mkdm(matrix, objectives, weights=weights)
    pipe = mkpipe(VectorScaler(target="matrix"), SumScaler(target="weights"), SkcTOPSIS())
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Although TOPSIS can operate with minimization",
                                UserWarning)
        result = pipe.evaluate(dm)
    return np.asarray(result.e_.similarity, dtype=float)


def random_problem(seed, n, k, *, negative=False):
    """A matrix whose entries are all eligible (floors below the worst value), mixed directions."""
    rng = np.random.default_rng(seed)
    lo = -50.0 if negative else 0.5
    X = rng.uniform(lo, 100.0, (n, k))
    # some exact ties and a coarse column, as declared values have
    X[:, 0] = np.round(X[:, 0])
    if n > 3:
        X[1] = X[0]
    specs = []
    for j in range(k):
        higher = bool(rng.integers(0, 2)) if j > 1 else j == 0
        col = X[:, j]
        weight = float(rng.uniform(0.1, 5.0))
        if higher:
            floor = float(col.min()) - 1.0
            spec = IndicatorSpec(f"i{j}", "higher", floor, (floor + 0.5,), weight=weight)
        else:
            floor = float(col.max()) + 1.0
            spec = IndicatorSpec(f"i{j}", "lower", floor, (floor - 0.5,), weight=weight)
        specs.append(spec)
    return X, specs


CASES = [(seed, n, k) for seed, (n, k) in enumerate([(5, 3), (12, 4), (40, 6), (200, 6),
                                                      (3, 2), (60, 3), (25, 8), (100, 5)])]


@pytest.mark.parametrize(("seed", "n", "k"), CASES)
def test_topsis_equals_pymcdm(seed, n, k):
    X, specs = random_problem(seed, n, k)
    ours = composite_topsis(X, specs)
    assert np.isfinite(ours).all()
    np.testing.assert_allclose(ours, pymcdm_topsis(X, specs), rtol=0, atol=TOL)


@pytest.mark.parametrize(("seed", "n", "k"), CASES)
def test_topsis_equals_scikit_criteria(seed, n, k):
    X, specs = random_problem(seed, n, k)
    np.testing.assert_allclose(composite_topsis(X, specs), skcriteria_topsis(X, specs),
                               rtol=0, atol=TOL)


def test_topsis_with_negative_values_equals_both():
    X, specs = random_problem(99, 30, 5, negative=True)
    ours = composite_topsis(X, specs)
    np.testing.assert_allclose(ours, pymcdm_topsis(X, specs), rtol=0, atol=TOL)
    np.testing.assert_allclose(ours, skcriteria_topsis(X, specs), rtol=0, atol=TOL)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_topsis_per_group_equals_oracles_group_by_group(seed):
    rng = np.random.default_rng(100 + seed)
    n, k = 150, 5
    X, specs = random_problem(seed + 50, n, k)
    labels = np.array(["ac", "toilet", "washer", "lamp"])
    groups = labels[rng.integers(0, len(labels), n)]
    ours = composite_topsis(X, specs, groups)
    assert np.isfinite(ours).all()
    for g in labels:
        sel = groups == g
        if sel.sum() < 2:
            continue
        np.testing.assert_allclose(ours[sel], pymcdm_topsis(X[sel], specs), rtol=0, atol=TOL)
        np.testing.assert_allclose(ours[sel], skcriteria_topsis(X[sel], specs), rtol=0, atol=TOL)
        # and the group alone gives the same as in company
        np.testing.assert_allclose(ours[sel], composite_topsis(X[sel], specs), rtol=0, atol=0)


def test_topsis_per_group_with_int_codes():
    X, specs = random_problem(7, 90, 4)
    codes = np.repeat([3, 0, 1], 30)
    ours = composite_topsis(X, specs, codes)
    for c in (0, 1, 3):
        sel = codes == c
        np.testing.assert_allclose(ours[sel], pymcdm_topsis(X[sel], specs), rtol=0, atol=TOL)


def test_documented_difference_identical_alternatives():
    """Where the libraries divide 0 by 0 we answer 1.0 (each entry is the ideal)."""
    X = np.array([[5.0, 4.0], [5.0, 4.0]])
    specs = [IndicatorSpec("a", "higher", 1.0, (2.0,)), IndicatorSpec("b", "lower", 9.0, (8.0,))]
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert np.isnan(pymcdm_topsis(X, specs)).all()
        with pytest.raises(ValueError, match="look like a ranking"):
            skcriteria_topsis(X, specs)
    assert composite_topsis(X, specs).tolist() == [1.0, 1.0]


def test_documented_difference_all_zero_column():
    """A column of zeros: pymcdm's vector normalisation divides 0 by 0; we normalise it to 0."""
    X = np.array([[0.0, 5.0], [0.0, 4.5], [0.0, 4.0]])
    specs = [IndicatorSpec("standby", "lower", 1.0, (0.5,)),
             IndicatorSpec("apf", "higher", 3.0, (5.0,))]
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert np.isnan(pymcdm_topsis(X, specs)).all()
    ours = composite_topsis(X, specs)
    # the same as the problem without the empty column
    np.testing.assert_allclose(ours, pymcdm_topsis(X[:, 1:], specs[1:]), rtol=0, atol=TOL)
