from __future__ import annotations

import math

from chronodb.optimizer.model import CostModel
from chronodb.optimizer.plan import FEATURES


def _features(scanned: float, searched: float) -> tuple[float, ...]:
    values = dict.fromkeys(FEATURES, 0.0)
    values["bias"] = 1.0
    values["log_rows_scanned"] = math.log1p(scanned)
    values["log_rows_searched"] = math.log1p(searched)
    values["scans"] = 1.0 if scanned else 0.0
    values["searches"] = 1.0 if searched else 0.0
    return tuple(values[f] for f in FEATURES)


def test_model_learns_latency_from_rows_examined_and_reports_held_out_mape() -> None:
    model = CostModel()
    assert model.train() is False  # nothing measured yet
    for i in range(400):
        rows = 10 ** (1 + i % 5)
        model.observe(_features(rows, 0), 50 * rows * (1 + 0.1 * (i % 3)))
        model.observe(_features(0, 1 + i % 7), 3000 * (1 + 0.1 * (i % 3)))
    assert model.train() is True
    assert model.samples == 800
    assert model.mape is not None and model.mape < 0.25
    small, large = model.predict(_features(100, 0)), model.predict(_features(100_000, 0))
    assert 100 < large / small < 10_000
    assert model.predict(_features(0, 1)) < model.predict(_features(100_000, 0)) / 10


def test_without_measurements_the_prior_already_prefers_fewer_rows() -> None:
    model = CostModel()
    assert model.predict(_features(0, 1)) < model.predict(_features(200_000, 0))
