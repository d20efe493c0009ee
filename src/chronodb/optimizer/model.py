"""The cost model: predicts a statement's latency from its plan's features.

A ridge regression on log latency (nanoseconds), written with the standard library (ten
features, so the normal equations are a 10x10 solve). The penalty pulls the weights
toward a prior rather than toward zero: before it has seen a feature vary (a workload of
scans only has never shown what a search costs), the model assumes latency grows with the
rows a plan examines; measurements move it from there. Every fifth sample is held out and
the model's error is the mean absolute percentage error (MAPE) on those.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Sequence

from chronodb.optimizer.plan import FEATURES

# Prior weights, in FEATURES order: ~3 us for a statement, latency ~ rows^0.75 examined by a
# scan and ~ rows^0.6 by a search, small costs for temp b-trees and automatic indexes.
PRIOR = (8.0, 0.75, 0.6, 0.0, 0.0, 0.3, 0.5, 0.1, 0.1, 0.5)
_PENALTY = 2.0
_HOLD_OUT_EVERY = 5
_MIN_SAMPLES = 10


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (``a`` is positive definite here)."""
    n = len(b)
    m = [[*row, b[i]] for i, row in enumerate(a)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        m[col], m[pivot] = m[pivot], m[col]
        lead = m[col][col]
        for r in range(col + 1, n):
            factor = m[r][col] / lead
            if factor:
                for c in range(col, n + 1):
                    m[r][c] -= factor * m[col][c]
    out = [0.0] * n
    for r in range(n - 1, -1, -1):
        total = m[r][n] - sum(m[r][c] * out[c] for c in range(r + 1, n))
        out[r] = total / m[r][r]
    return out


class CostModel:
    """Latency in nanoseconds from a plan feature vector; learns from measured latencies."""

    def __init__(self, capacity: int = 256) -> None:
        self.weights: list[float] = list(PRIOR)
        # Training samples grouped by feature vector (most statements repeat one plan), so
        # training costs per plan, not per sample: features -> [count, sum of log latency].
        self._groups: dict[tuple[float, ...], list[float]] = {}
        self._test: deque[tuple[tuple[float, ...], float]] = deque(maxlen=capacity)  # held out
        self._seen = 0
        self._trained_at = 0
        self._new_plans = False
        self.trainings = 0
        self.trained_on = 0
        self.mape: float | None = None  # on held-out measurements, after training
        # Every thread running statements feeds the model; one of them may be training it.
        self._lock = threading.RLock()

    @property
    def samples(self) -> int:
        return self._seen

    def observe(self, features: tuple[float, ...], latency_ns: float) -> None:
        """Remember one measurement; every fifth is kept aside to measure the model's error."""
        with self._lock:
            self._observe(features, latency_ns)

    def _observe(self, features: tuple[float, ...], latency_ns: float) -> None:
        self._seen += 1
        target = math.log(max(latency_ns, 1.0))
        if self._seen % _HOLD_OUT_EVERY == 0:
            self._test.append((features, target))
        else:
            group = self._groups.get(features)
            if group is None:
                self._groups[features] = [1.0, target]
                self._new_plans = True
            else:
                group[0] += 1.0
                group[1] += target

    def predict(self, features: Sequence[float]) -> float:
        """Predicted latency in nanoseconds."""
        return math.exp(sum(w * x for w, x in zip(self.weights, features, strict=True)))

    @property
    def untrained(self) -> int:
        """Measurements seen since the last training."""
        return self._seen - self._trained_at

    def worth_training(self) -> bool:
        """Whether training could change much: a new plan was seen, or a quarter more samples."""
        new = self.untrained
        return new >= _MIN_SAMPLES and (self._new_plans or new * 4 >= self._trained_at)

    def train(self) -> bool:
        """Fit the weights to the measurements so far; False if there are too few."""
        with self._lock:
            return self._train()

    def _train(self) -> bool:
        count = sum(g[0] for g in self._groups.values())
        if count < _MIN_SAMPLES:
            return False
        n = len(FEATURES)
        xtx = [[_PENALTY if i == j else 0.0 for j in range(n)] for i in range(n)]
        xty = [_PENALTY * p for p in PRIOR]
        for x, (weight, total) in self._groups.items():
            for i in range(n):
                xi = x[i]
                if xi:
                    row = xtx[i]
                    for j in range(n):
                        row[j] += weight * xi * x[j]
                    xty[i] += xi * total
        self.weights = _solve(xtx, xty)
        self.trainings += 1
        self.trained_on = int(count)
        self._trained_at = self._seen
        self._new_plans = False
        self.mape = self._error()
        return True

    def error(self) -> float | None:
        """MAPE (a fraction: 0.25 is 25%) of the predictions on the held-out measurements."""
        with self._lock:
            return self._error()

    def _error(self) -> float | None:
        if not self._test:
            return None
        total = 0.0
        predicted: dict[tuple[float, ...], float] = {}
        for x, y in self._test:
            guess = predicted.get(x)
            if guess is None:
                guess = predicted[x] = self.predict(x)
            actual = math.exp(y)
            total += abs(guess - actual) / actual
        return total / len(self._test)
