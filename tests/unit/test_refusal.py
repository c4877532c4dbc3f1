"""assistant/refusal.py: the refusal model's fit keeps each signal pushing the way it can only push."""

from __future__ import annotations

import random

import pytest

from assistant.refusal import cut, fit


def _rows() -> list[tuple[dict[str, float], bool]]:
    """Similarity separates the classes; by chance, the few unanswerable rows have high coverage."""
    rng = random.Random(7)
    rows = [({"similarity": 0.6 + 0.3 * rng.random(), "coverage": 0.3 + 0.5 * rng.random()}, True) for _ in range(40)]
    rows += [({"similarity": 0.3 + 0.3 * rng.random(), "coverage": 0.85 + 0.1 * rng.random()}, False) for _ in range(6)]
    return rows


def test_a_signal_that_would_fit_the_wrong_sign_is_held_at_zero() -> None:
    free, _ = fit(_rows(), signs={})
    assert free["coverage"] < -0.1, f"the rows are built so a free fit weights coverage against answering: {free}"

    held, _ = fit(_rows(), signs={"similarity": 1, "coverage": 1})
    assert held["coverage"] == 0.0, held
    assert held["similarity"] > 1.0, f"the signal that separates the classes keeps its weight: {held}"


def test_a_signal_with_its_expected_sign_is_fit_as_before() -> None:
    rows = [(dict(f, coverage=1.0 - f["coverage"]), answerable) for f, answerable in _rows()]
    free, free_bias = fit(rows, signs={})
    held, held_bias = fit(rows, signs={"similarity": 1, "coverage": 1})
    assert free["coverage"] > 0 and held == free and held_bias == free_bias, (free, held)


def test_the_cut_refuses_as_many_unanswerable_questions_as_the_allowed_false_refusals_reach() -> None:
    rows = [(0.1, False), (0.2, True), (0.3, False), (0.4, True), (0.5, True), (0.6, False), (0.7, True)]
    # One false refusal allowed: the cut reaches the unanswerable question at 0.3, past the answerable one at 0.2.
    assert cut(rows, 1) == pytest.approx(0.35)
    # Three allowed would reach 0.6: the cut goes past it.
    assert cut(rows, 3) == pytest.approx(0.65)


def test_the_cut_refuses_no_answerable_question_beyond_the_last_unanswerable_one() -> None:
    # Two false refusals are allowed, but the second (0.4) buys no unanswerable refusal: the cut stays below it.
    rows = [(0.1, False), (0.2, True), (0.3, False), (0.4, True), (0.5, True), (0.6, True)]
    assert cut(rows, 2) == pytest.approx(0.35)
    assert cut([(0.2, True), (0.4, True)], 1) == 0.0  # nothing to refuse: refuse nothing
