"""The ledger's last verification, kept in the database beside the ledger.

Every process and server using a database sees when its ledger was last verified and with
what result, whoever verified it, and a restart keeps it. It is one row of the key/value
table ``_chrono_meta`` (key ``layout.META_VERIFIED``, value JSON) on both backends, written
after each verification by a connection that may write (outside an open transaction, so a
ROLLBACK cannot undo it). The row is absent until the first verification: older files and
databases open as they are. A connection that cannot write (read-only, a standby, a
transaction open) keeps its verification in memory (the engine's ``last_verification``);
the health report shows the newer of the two (:func:`newest`).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass
from typing import Any

from chronodb.audit.verify import VerificationReport
from chronodb.layout import META, META_VERIFIED


@dataclass(frozen=True, slots=True)
class Verification:
    """One verification of the ledger: when (seconds since the epoch) and what it found."""

    time: float
    valid: bool
    problems: int = 0
    tree_size: int = 0  # the leaves it covered

    @classmethod
    def of(cls, report: VerificationReport, when: float) -> Verification:
        return cls(when, bool(report.ok), len(report.problems), report.tree_size)

    def encode(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def decode(cls, text: Any) -> Verification | None:
        """The verification a stored value holds; None for none, or for a value this
        version cannot read (written by another one): a report never fails on it."""
        try:
            data = json.loads(text)
            return cls(
                float(data["time"]),
                bool(data["valid"]),
                int(data.get("problems", 0)),
                int(data.get("tree_size", 0)),
            )
        except (TypeError, ValueError, KeyError, AttributeError):
            return None

    def report(self) -> dict[str, Any]:
        """The health report's ledger figures of this verification."""
        return {
            "last_verification": self.time,
            "valid": self.valid,
            "problems": self.problems,
            "verified_tree_size": self.tree_size,
        }


NEVER: dict[str, Any] = {
    "last_verification": None,
    "valid": None,
    "problems": None,
    "verified_tree_size": None,
}
"""The health report's ledger figures when no verification is known."""


def newest(*found: Verification | None) -> Verification | None:
    """The latest of the verifications known (stored, and this connection's own)."""
    known = [v for v in found if v is not None]
    return max(known, key=lambda v: v.time) if known else None


def report_figures(*found: Verification | None) -> dict[str, Any]:
    """The health report's ledger figures: the latest verification known, else none."""
    latest = newest(*found)
    return dict(NEVER) if latest is None else latest.report()


# -- SQLite: a row of the file's _chrono_meta -------------------------------------------------

_READ = f"SELECT value FROM main.{META} WHERE key = ?"
_WRITE = f"INSERT OR REPLACE INTO main.{META} (key, value) VALUES (?, ?)"


def load(conn: sqlite3.Connection) -> Verification | None:
    """The verification stored in a SQLite file, if any."""
    row = conn.execute(_READ, (META_VERIFIED,)).fetchone()
    return None if row is None else Verification.decode(row[0])


def store(conn: sqlite3.Connection, verification: Verification) -> None:
    """Write the verification into a SQLite file, in the transaction the caller opened."""
    conn.execute(_WRITE, (META_VERIFIED, verification.encode()))
