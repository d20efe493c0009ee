"""The suite's requirements: SQLAlchemy's defaults, the same for every driver compared."""

from __future__ import annotations

from sqlalchemy.testing.requirements import SuiteRequirements


class Requirements(SuiteRequirements):
    pass
