"""The learned optimizer (``db.ml_optimizer``) and the health report (``db.get_health_report()``).

``fingerprint`` normalises statements, ``workload`` captures them, ``plan`` reads the
planner's plans, ``model`` is the cost model, ``advisor`` proposes and tries indexes,
``apply`` verifies and reverts them, ``health`` reports on the database.
"""

from chronodb.optimizer.fingerprint import Fingerprinter
from chronodb.optimizer.health import HealthMonitor, health_report
from chronodb.optimizer.ml_optimizer import MLOptimizer, Recommendation
from chronodb.optimizer.model import CostModel

__all__ = [
    "CostModel",
    "Fingerprinter",
    "HealthMonitor",
    "MLOptimizer",
    "Recommendation",
    "health_report",
]
