"""The ledger's leaf: a canonical, versioned byte encoding of one committed transaction.

    version   1 byte   (1)
    tx_id     8 bytes  big-endian
    tx_time   8 bytes  microseconds since the epoch
    user      2-byte length + UTF-8
    kinds     2-byte length + UTF-8, comma-separated statement kinds ("INSERT,UPDATE")
    tables    4-byte count, then per table: table_id (4), versions (8), SHA-256 (32)
    amends    4-byte count, then per amendment: tx_id (8), table_id (4), versions (8), SHA-256 (32)

A table entry digests every row version the transaction wrote to that table's history
(see ``digests.py``). An amendment records, for a pruning or erasing transaction, the
new digest of an earlier transaction's versions after some of them were removed.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from chronodb.errors import AuditError

FORMAT = 1
_HEAD = struct.Struct(">BQq")
_LEN = struct.Struct(">H")
_COUNT = struct.Struct(">I")
_TABLE = struct.Struct(">IQ32s")
_TABLE_HEAD = struct.Struct(">IQ")  # a table entry without its digest
_AMEND = struct.Struct(">QIQ32s")


@dataclass(frozen=True, slots=True)
class TableDigest:
    table_id: int
    versions: int
    digest: bytes


@dataclass(frozen=True, slots=True)
class Amendment:
    tx_id: int
    table_id: int
    versions: int
    digest: bytes


@dataclass(frozen=True, slots=True)
class Leaf:
    tx_id: int
    tx_time: int
    user: str
    kinds: tuple[str, ...]
    tables: tuple[TableDigest, ...]
    amendments: tuple[Amendment, ...] = ()

    def encode(self) -> bytes:
        tables = [(t.table_id, t.versions, t.digest) for t in self.tables]
        return encode(self.tx_id, self.tx_time, self.user, self.kinds, tables, self.amendments)

    @classmethod
    def decode(cls, data: bytes) -> Leaf:
        try:
            version, tx_id, tx_time = _HEAD.unpack_from(data, 0)
            if version != FORMAT:
                raise AuditError(f"unknown ledger leaf format {version}")
            pos = _HEAD.size
            (n,) = _LEN.unpack_from(data, pos)
            user = data[pos + 2 : pos + 2 + n].decode()
            pos += 2 + n
            (n,) = _LEN.unpack_from(data, pos)
            kinds = tuple(k for k in data[pos + 2 : pos + 2 + n].decode().split(",") if k)
            pos += 2 + n
            (count,) = _COUNT.unpack_from(data, pos)
            pos += 4
            tables = []
            for _ in range(count):
                tables.append(TableDigest(*_TABLE.unpack_from(data, pos)))
                pos += _TABLE.size
            (count,) = _COUNT.unpack_from(data, pos)
            pos += 4
            amends = []
            for _ in range(count):
                amends.append(Amendment(*_AMEND.unpack_from(data, pos)))
                pos += _AMEND.size
        except (struct.error, UnicodeDecodeError) as err:
            raise AuditError(f"ledger leaf cannot be decoded: {err}") from err
        if pos != len(data):
            raise AuditError("ledger leaf has trailing bytes")
        return cls(tx_id, tx_time, user, kinds, tuple(tables), tuple(amends))


def header(data: bytes) -> tuple[int, int, str]:
    """(tx_id, tx_time, user) of an encoded leaf, without decoding the rest: indexing a
    leaf needs no more (``ledger.py``)."""
    try:
        _, tx_id, tx_time = _HEAD.unpack_from(data, 0)
        (n,) = _LEN.unpack_from(data, _HEAD.size)
        start = _HEAD.size + _LEN.size
        return tx_id, tx_time, data[start : start + n].decode()
    except (struct.error, UnicodeDecodeError) as err:
        raise AuditError(f"ledger leaf cannot be decoded: {err}") from err


@functools.lru_cache(maxsize=256)
def _about(user: str, kinds: str) -> bytes:
    """A leaf's user and kinds fields: the same for most of a connection's leaves."""
    user_bytes, kind_bytes = user.encode(), kinds.encode()
    return _LEN.pack(len(user_bytes)) + user_bytes + _LEN.pack(len(kind_bytes)) + kind_bytes


def encode(
    tx_id: int,
    tx_time: int,
    user: str,
    kinds: Sequence[str],
    tables: Sequence[tuple[int, int, bytes]],
    amendments: Sequence[Amendment] = (),
) -> bytes:
    """A leaf's bytes from its parts, without building a :class:`Leaf` (every write seals
    one: the dataclasses cost about as much as the encoding). ``tables``: (table_id,
    versions, digest) triples."""
    parts = [
        _HEAD.pack(FORMAT, tx_id, tx_time),
        _about(user, ",".join(kinds)),
        _COUNT.pack(len(tables)),
    ]
    parts += [_TABLE.pack(*t) for t in tables]
    parts.append(_COUNT.pack(len(amendments)))
    parts += [_AMEND.pack(a.tx_id, a.table_id, a.versions, a.digest) for a in amendments]
    return b"".join(parts)


@functools.lru_cache(maxsize=256)
def _one_table(user: str, kinds: tuple[str, ...], table_id: int) -> bytes:
    """What comes between the header and the digest in :func:`encode_one`'s leaves."""
    return _about(user, ",".join(kinds)) + _COUNT.pack(1) + _TABLE_HEAD.pack(table_id, 1)


NO_AMENDMENTS = _COUNT.pack(0)
"""The end of a leaf without amendments: :func:`one_prefix`'s leaves end so."""


def one_prefix(tx_id: int, tx_time: int, user: str, kinds: tuple[str, ...], table_id: int) -> bytes:
    """The bytes of :func:`encode_one`'s leaf before its digest: the leaf is this, the
    digest and :data:`NO_AMENDMENTS`. A one-version seal builds it before its statement runs,
    so the SQL function the statement calls only hashes and joins."""
    return _HEAD.pack(FORMAT, tx_id, tx_time) + _one_table(user, kinds, table_id)


def encode_one(
    tx_id: int, tx_time: int, user: str, kinds: tuple[str, ...], table_id: int, digest: bytes
) -> bytes:
    """``encode(tx_id, tx_time, user, kinds, [(table_id, 1, digest)])``: the leaf of a
    transaction that wrote one version, the commonest, from parts cached per user, kinds
    and table (every autocommit write of one row seals one)."""
    return one_prefix(tx_id, tx_time, user, kinds, table_id) + digest + NO_AMENDMENTS
