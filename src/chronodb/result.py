"""The result of one statement: rows like ``sqlite3.Row`` plus what the write did."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any


class Result:
    """Rows (by position or column name) and, for writes, the transaction that made them.

    Rows are fetched when the statement runs, so a Result stays valid after later
    statements, commits and ``close()``.
    """

    __slots__ = (
        "_columns",
        "_description",
        "_leaf",
        "_pos",
        "_tx_hash",
        "lastrowid",
        "notes",
        "rowcount",
        "rows",
        "tx_id",
        "tx_time",
    )

    def __init__(
        self,
        cursor: sqlite3.Cursor | None,
        rows: list[sqlite3.Row] | None = None,
        tx_id: int | None = None,
        tx_time: float | None = None,
    ) -> None:
        # Column names are built from the description on first use: most reads never ask.
        self._columns: list[str] | None = None
        if cursor is not None:
            description = cursor.description
            self._description = description
            self.rows: list[sqlite3.Row] = (
                rows if rows is not None else (cursor.fetchall() if description else [])
            )
            self.rowcount: int = cursor.rowcount
            self.lastrowid: int | None = cursor.lastrowid
        else:
            self._description = None
            self.rows, self.rowcount, self.lastrowid = rows or [], -1, None
        self.tx_id = tx_id
        self.tx_time = tx_time
        self._tx_hash: str | None = None
        self._leaf: bytes | None = None  # the ledger leaf tx_hash is the hash of, until asked
        # Why a time-travel read is empty when its point alone explains it (each is also
        # issued as a ChronoDBWarning).
        self.notes: list[str] = []
        self._pos = 0

    @classmethod
    def of(
        cls, description: Any, rows: list[Any], rowcount: int, lastrowid: int | None = None
    ) -> Result:
        """A Result from a driver's parts (a cursor of a driver without ``lastrowid``)."""
        result = cls(None, rows)
        result._description = description
        result.rowcount, result.lastrowid = rowcount, lastrowid
        return result

    @property
    def tx_hash(self) -> str | None:
        """The ledger hash (hex) of the write's transaction; None without the ledger."""
        leaf = self._leaf
        if leaf is not None:
            from chronodb.audit.proofs import leaf_hash

            self._tx_hash, self._leaf = leaf_hash(leaf).hex(), None
        return self._tx_hash

    @tx_hash.setter
    def tx_hash(self, value: str | None) -> None:
        self._tx_hash, self._leaf = value, None

    def sealed(self, leaf: bytes) -> None:
        """The write's transaction was sealed with ``leaf``: :attr:`tx_hash` is its hash,
        computed when first asked for (most writers never ask)."""
        self._tx_hash, self._leaf = None, leaf

    @property
    def columns(self) -> list[str]:
        """The result's column names, in order (empty for a statement that returns no rows)."""
        if self._columns is None:
            description = self._description
            self._columns = [d[0] for d in description] if description else []
        return self._columns

    @columns.setter
    def columns(self, names: list[str]) -> None:
        self._columns = list(names)

    @property
    def description(self) -> tuple[tuple[Any, ...], ...] | None:
        """PEP 249's description: a 7-tuple per column (name first), None without rows."""
        return self._description

    def __iter__(self) -> Iterator[sqlite3.Row]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> sqlite3.Row:
        return self.rows[index]

    def __bool__(self) -> bool:
        return bool(self.rows)

    def fetchone(self) -> sqlite3.Row | None:
        if self._pos >= len(self.rows):
            return None
        row = self.rows[self._pos]
        self._pos += 1
        return row

    def fetchmany(self, size: int = 1) -> list[sqlite3.Row]:
        chunk = self.rows[self._pos : self._pos + size]
        self._pos += len(chunk)
        return chunk

    def fetchall(self) -> list[sqlite3.Row]:
        rest = self.rows[self._pos :]
        self._pos = len(self.rows)
        return rest

    def scalar(self) -> Any:
        """The first column of the first row, or None."""
        return self.rows[0][0] if self.rows else None

    def to_dicts(self) -> list[dict[str, Any]]:
        cols = self.columns
        return [dict(zip(cols, row, strict=False)) for row in self.rows]

    def to_dataframe(self) -> Any:
        """The rows as a pandas DataFrame with the result's column names (needs pandas)."""
        try:
            import pandas
        except ImportError as err:
            from chronodb.errors import ChronoDBError

            raise ChronoDBError("Result.to_dataframe needs pandas: pip install pandas") from err
        return pandas.DataFrame([tuple(row) for row in self.rows], columns=self.columns)

    def __repr__(self) -> str:
        extra = f" tx_id={self.tx_id}" if self.tx_id is not None else ""
        return f"<Result {len(self.rows)} rows, columns={self.columns}{extra}>"
