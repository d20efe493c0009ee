from __future__ import annotations

import math
import threading
import time

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


def test_training_while_other_threads_measure_never_raises() -> None:
    # Every thread that runs statements feeds the model its measurements; one of them may be
    # training it at that moment (a user's statement once failed with "deque mutated during
    # iteration").
    model = CostModel(capacity=64)
    stop = threading.Event()
    errors: list[BaseException] = []

    def measure(seed: int) -> None:
        i = seed
        try:
            while not stop.is_set():
                i += 1
                model.observe(_features(10 ** (i % 6), i % 13), 1000 + i % 977)
        except BaseException as err:  # pragma: no cover - what the test is looking for
            errors.append(err)

    threads = [threading.Thread(target=measure, args=(n * 1000,)) for n in range(3)]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 1.5
        trained = 0
        while time.monotonic() < deadline and not errors:
            trained += model.train()
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert errors == []
    assert trained > 0 and model.mape is not None
