"""The statute tier's figures: the calibration rule holds with the shipped model and threshold, and the
separate evaluation set (never fitted on) does not regress below what was measured (bench/results.md)."""
from __future__ import annotations

import pytest

from scripts import calibrate_statutes as cal


@pytest.fixture(scope="module")
def figures():
    from miyun import settings
    from miyun.knowledge import statutes

    cfg = settings.load()
    lib = statutes.library()
    inputs = cal.content_inputs(cfg.content_dir)
    threshold = cfg.statute_threshold
    return {name: cal.measure(cal.run(lib, cal.cases(path), inputs), threshold)
            for name, path in (("calibration", cal.CALIBRATION), ("evaluation", cal.EVALUATION))}


def test_sets_are_big_enough_and_separate():
    calib, evaluation = cal.cases(cal.CALIBRATION), cal.cases(cal.EVALUATION)
    assert len(calib) >= 60 and sum(1 for c in calib if not c["expect"]) >= 15
    assert len(evaluation) >= 60 and sum(1 for c in evaluation if not c["expect"]) >= 15
    assert not {c["q"] for c in calib} & {c["q"] for c in evaluation}


def test_calibration_rule_holds(figures):
    m = figures["calibration"]
    assert m["served"] - m["right"] <= cal.MAX_WRONG_SHARE * m["cases"]
    assert m["precision"] >= cal.MIN_PRECISION


def test_evaluation_does_not_regress(figures):
    m = figures["evaluation"]
    assert m["negatives_served"] <= 0.05 * m["negatives"]
    assert (m["served"] - m["right"]) <= 0.05 * m["cases"]
    assert m["precision"] >= 0.6 and m["recall"] >= 0.05
