"""``db.audit_trail``: verify the ledger, prove transactions, export and check digests, report.

The trail is the same on every backend: it reads the ledger through a :class:`LedgerAccess`
(SQLite's in ``audit/access.py``, PostgreSQL's in ``pgengine/audit.py``), which says how to
take one consistent reading of the leaves and the Merkle tree, how to recompute one
transaction's versions, how to verify everything and where saved digests go. Proofs are
checked with ``audit/proofs.py``'s verifiers whatever the backend.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from chronodb._guard import guard_class
from chronodb.audit.leaf import Leaf
from chronodb.audit.merkle import MerkleTree
from chronodb.audit.proofs import (
    EMPTY_ROOT,
    InclusionProof,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from chronodb.audit.verify import VerificationReport
from chronodb.errors import AuditError, ClosedError
from chronodb.timepoint import iso, to_micros

if TYPE_CHECKING:
    from chronodb.database import ChronoDB


@dataclass(frozen=True)
class Digest:
    """A signed-off state of the ledger: keep one elsewhere to detect a rewritten file."""

    tree_size: int
    root: str
    time: float
    signature: str | None = None
    public_key: str | None = None

    def message(self) -> bytes:
        return f"chronodb-digest:{self.tree_size}:{self.root}:{self.time!r}".encode()

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    def row(self) -> tuple[int, bytes, float, bytes | None, bytes | None]:
        """Its fields as ``_chrono_digests`` stores them: hashes and keys as bytes."""
        signature, key = self.signature, self.public_key
        return (
            self.tree_size,
            bytes.fromhex(self.root),
            self.time,
            bytes.fromhex(signature) if signature else None,
            bytes.fromhex(key) if key else None,
        )

    @classmethod
    def from_json(cls, text: str) -> Digest:
        try:
            data = json.loads(text)
            return cls(**data)
        except (ValueError, TypeError) as err:
            raise AuditError(f"not a ChronoDB digest: {err}") from err

    @classmethod
    def coerce(cls, old: Digest | dict[str, Any] | str) -> Digest:
        """A digest given as itself, its JSON or its fields; AuditError if it is not one."""
        made = cls.from_json(old) if isinstance(old, str) else old
        if isinstance(made, dict):
            try:
                made = cls(**made)
            except TypeError as err:
                raise AuditError(f"not a ChronoDB digest: {err}") from None
        if not isinstance(made, cls):
            raise AuditError(f"not a ChronoDB digest: {type(old).__name__}")
        size, root = made.tree_size, made.root
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size < 2**63:
            raise AuditError(f"not a ChronoDB digest: tree_size {size!r} is not a size")
        if not isinstance(root, str) or len(root) != 64 or not _is_hex(root):
            raise AuditError(f"not a ChronoDB digest: root {root!r} is not 64 hex digits")
        return made

    @classmethod
    def load(cls, path: str | Path) -> Digest:
        return cls.from_json(Path(path).read_text())

    def verify_signature(self, public_key: bytes | str | None = None) -> bool:
        """Check the Ed25519 signature (with the given key, else the one recorded)."""
        key = public_key if public_key is not None else self.public_key
        if self.signature is None or key is None:
            return False
        try:
            from cryptography.exceptions import InvalidSignature
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError("cryptography is required to check signatures") from err
        raw = bytes.fromhex(key) if isinstance(key, str) else key
        try:
            Ed25519PublicKey.from_public_bytes(raw).verify(
                bytes.fromhex(self.signature), self.message()
            )
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass
class AuditReport:
    """Who changed what, when, with before and after values, and the integrity verdict."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    integrity: dict[str, Any] = field(default_factory=dict)

    def to_json(self, path: str | Path | None = None) -> str:
        text = json.dumps(
            {"entries": self.entries, "integrity": self.integrity}, indent=2, default=str
        )
        if path is not None:
            Path(path).write_text(text)
        return text

    def to_csv(self, path: str | Path | None = None) -> str:
        buf = io.StringIO()
        fields = [
            "tx_id",
            "tx_time",
            "user",
            "table",
            "operation",
            "key",
            "before",
            "after",
            "tx_hash",
        ]
        writer = csv.DictWriter(buf, fieldnames=fields)
        writer.writeheader()
        for e in self.entries:
            writer.writerow(
                {
                    k: json.dumps(e[k], default=str) if k in ("before", "after", "key") else e[k]
                    for k in fields
                }
            )
        text = buf.getvalue()
        if path is not None:
            Path(path).write_text(text)
        return text

    def __len__(self) -> int:
        return len(self.entries)


class LedgerView(Protocol):
    """One consistent reading of the ledger: the tree over every committed leaf."""

    tree: MerkleTree

    def find(self, digest: bytes) -> tuple[int, int, bytes] | None:
        """(leaf_index, tx_id, leaf) of the leaf in :attr:`tree` hashing to ``digest``."""
        ...

    def matches(self, tx_id: int, leaf: Leaf) -> bool:
        """Whether transaction ``tx_id``'s stored versions still digest to what ``leaf``
        (or a later amendment) records."""
        ...


class LedgerAccess(Protocol):
    """How a backend's ledger is read, verified and signed off (see the module's docstring)."""

    def verify(
        self, progress: Callable[[int, int], None] | None, *, quick: bool
    ) -> VerificationReport:
        """Recompute everything from the stored rows."""
        ...

    def reading(self) -> AbstractContextManager[LedgerView]:
        """One consistent reading of the ledger, for the ``with`` body."""
        ...

    def save(self, digest: Digest) -> None:
        """Keep ``digest`` in the database (verification checks the ledger against every
        one kept), unless this connection cannot write now (read-only, or inside an open
        transaction)."""
        ...


def _refuse_closed(trail: AuditTrail) -> None:
    """Run before every public method: the trail of a closed database says it is closed."""
    db = trail._db
    if db.closed:
        raise ClosedError(db.path)


@guard_class(_refuse_closed)
class AuditTrail:
    """The tamper-evident ledger of one database; its methods raise only ChronoDBErrors.

    It reads the ledger through ``access`` (the backend's); ``db`` is the database itself,
    whose public :meth:`~chronodb.ChronoDB.changes` and :meth:`~chronodb.ChronoDB.tx_hash`
    its reports read.
    """

    def __init__(self, access: LedgerAccess, db: ChronoDB) -> None:
        self._access = access
        self._db = db

    # -- verification ---------------------------------------------------------
    def verify(
        self, progress: Callable[[int, int], None] | None = None, *, quick: bool = False
    ) -> VerificationReport:
        """Recompute everything from the stored rows; the report names the first problem.

        On SQLite it starts with SQLite's check of every page and index of the file: by
        default ``PRAGMA integrity_check``, which also looks up every index entry in its
        table (time grows with the file, a little faster than its size); ``quick=True`` runs
        ``quick_check`` instead, several times faster, which misses an index entry that
        names the wrong row. Damage is reported as problems of kind "file damaged", never
        raised. PostgreSQL checks its own pages, and ``quick`` changes nothing there.
        ``progress(done, total)`` is called as row versions are checked.
        """
        return self._access.verify(progress, quick=quick)

    def verify_transaction(self, tx_hash: str) -> bool:
        """Check one transaction: its rows, its leaf, and its inclusion in the tree."""
        try:
            digest = bytes.fromhex(tx_hash)
        except (ValueError, TypeError):
            return False
        with self._access.reading() as view:
            found = view.find(digest)
            if found is None:
                return False
            index, tx_id, blob = found
            if leaf_hash(blob) != digest or not view.matches(tx_id, Leaf.decode(blob)):
                return False
            tree = view.tree
            size = tree.size
            proof = tree.inclusion_proof(index, size)
            return verify_inclusion(digest, index, size, proof.hashes, tree.root(size))

    def prove(self, tx_hash: str) -> dict[str, Any]:
        """The inclusion proof of one transaction against the current root (all hex)."""
        if not isinstance(tx_hash, str) or not _is_hex(tx_hash):
            raise AuditError(f"not a transaction hash (hex digits): {tx_hash!r:.80}")
        digest = bytes.fromhex(tx_hash)
        with self._access.reading() as view:
            found = view.find(digest)
            if found is None:
                raise AuditError(f"unknown transaction hash {tx_hash!r}")
            index, tx_id, blob = found
            tree = view.tree
            size = tree.size
            proof: InclusionProof = tree.inclusion_proof(index, size)
            return {
                "tx_id": tx_id,
                "leaf": blob.hex(),
                "leaf_hash": digest.hex(),
                "root": tree.root(size).hex(),
                **proof.to_dict(),
            }

    # -- digests ---------------------------------------------------------------
    def digest(self, signing_key: Any = None, *, save: bool = True) -> Digest:
        """(tree size, root, time) now, optionally signed with an Ed25519 private key.

        ``save``: keep it in the database too (``_chrono_digests``), where verification
        checks the ledger against it; not when the database is read-only or a transaction
        is open.
        """
        with self._access.reading() as view:
            size = view.tree.size
            root = view.tree.root(size).hex() if size else EMPTY_ROOT.hex()
        made = Digest(size, root, time.time())
        if signing_key is not None:
            made = _sign(made, signing_key)
        if save:
            self._access.save(made)
        return made

    def export_digest(self, target: str | Path | TextIO, signing_key: Any = None) -> Digest:
        """Write the current digest as JSON to a file path or an open text stream."""
        made = self.digest(signing_key)
        text = made.to_json() + "\n"
        if isinstance(target, str | Path):
            Path(target).write_text(text)
        else:
            target.write(text)
        return made

    def verify_consistency(self, old: Digest | dict[str, Any] | str) -> bool:
        """Prove the ledger has only been appended to since ``old`` was taken.

        ``old`` is a :class:`Digest`, its JSON or its fields; anything else is an AuditError.
        """
        old = Digest.coerce(old)
        with self._access.reading() as view:
            tree = view.tree
            size = tree.size
            if old.tree_size > size:
                return False
            if old.tree_size == 0:
                return True
            root = tree.root(size)
            proof = tree.consistency_proof(old.tree_size, size)
            return verify_consistency(
                old.tree_size, size, proof.hashes, bytes.fromhex(old.root), root
            )

    # -- reports ---------------------------------------------------------------
    def generate_audit_report(
        self,
        table: str | None = None,
        start_time: Any = None,
        end_time: Any = None,
        user: str | None = None,
        *,
        verify_integrity: bool = True,
    ) -> AuditReport:
        """Every change in ``(start_time, end_time]``, filtered by table and user."""
        db = self._db
        tables = [table] if table else db.tables()
        entries = []
        for name in tables:
            for change in db.changes(name, start_time, end_time):
                if user is not None and change["user"] != user:
                    continue
                key = {k: change[k] for k in change if k not in _CHANGE_FIELDS}
                entries.append(
                    {
                        "tx_id": change["tx_id"],
                        "tx_time": iso(to_micros(change["tx_time"])),
                        "user": change["user"],
                        "table": name,
                        "operation": change["operation"],
                        "key": next(iter(key.values())) if len(key) == 1 else key,
                        "before": change["before"],
                        "after": change["after"],
                        "tx_hash": db.tx_hash(change["tx_id"]),
                    }
                )
        entries.sort(key=lambda e: (e["tx_id"], e["table"]))
        integrity: dict[str, Any] = {}
        if verify_integrity:
            report = self.verify()
            first = report.first_problem
            integrity = {
                "ok": report.ok,
                "checked": report.checked,
                "first_problem": asdict(first) if first else None,
                "tree_size": report.tree_size,
                "root": report.root,
            }
        return AuditReport(entries, integrity)


def _is_hex(text: str) -> bool:
    """Whether ``text`` is an even number of hex digits (what bytes.fromhex reads)."""
    return len(text) % 2 == 0 and all(c in "0123456789abcdefABCDEF" for c in text)


_CHANGE_FIELDS = {"operation", "tx_id", "tx_time", "user", "before", "after"}


def _sign(made: Digest, signing_key: Any) -> Digest:
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "cryptography is required to sign digests: pip install cryptography"
        ) from err
    key = signing_key
    if isinstance(key, bytes | bytearray):
        key = Ed25519PrivateKey.from_private_bytes(bytes(key))
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditError("signing_key must be an Ed25519 private key or its 32 raw bytes")
    public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    unsigned = Digest(made.tree_size, made.root, made.time, None, public.hex())
    signature = key.sign(unsigned.message())
    return Digest(made.tree_size, made.root, made.time, signature.hex(), public.hex())
