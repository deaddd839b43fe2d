"""The Fréchet distance of ``bench/evaluate.py`` agrees with the textbook formula (scipy's sqrtm)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import linalg

from bench.evaluate import frechet_distance


def test_frechet_distance_matches_the_formula_and_is_zero_for_the_same_features() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 6))
    b = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6)) + 2.0
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    expected = (((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b)
                - 2 * np.trace(linalg.sqrtm(cov_a @ cov_b).real))
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(a, a + 3.0) == pytest.approx(9.0 * 6, rel=1e-6)  # a shift of 3 in 6 dimensions
