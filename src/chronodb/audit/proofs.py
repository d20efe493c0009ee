"""Verify RFC 9162 Merkle proofs with nothing but the standard library.

This file imports only ``hashlib``, ``hmac``, ``dataclasses`` and ``typing`` so
that an auditor can copy it next to an exported proof and check it without
installing ChronoDB. Hashes follow RFC 9162 (Certificate Transparency v2) with
SHA-256::

    leaf hash = SHA-256(0x00 || leaf)
    node hash = SHA-256(0x01 || left || right)
    empty tree = SHA-256("")

Example::

    >>> leaf = leaf_hash(b"tx 1")
    >>> verify_inclusion(leaf, 0, 1, [], leaf)
    True

The verifiers return ``False`` for any malformed input (wrong types, hashes of
the wrong length, negative sizes) instead of raising, so a caller can treat
"cannot be checked" and "does not check out" alike.
"""

import hashlib
import hmac
from dataclasses import dataclass, field

# typing.Sequence rather than collections.abc: the file's promise is these four imports.
from typing import Any, Sequence  # noqa: UP035

HASH_SIZE = 32
"""Bytes in a SHA-256 digest, and so in every hash of a proof."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""The Merkle Tree Hash of an empty tree (RFC 9162 section 2.1.1)."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hash(leaf: bytes) -> bytes:
    """The RFC 9162 hash of one leaf's data: ``SHA-256(0x00 || leaf)``."""
    return hashlib.sha256(_LEAF_PREFIX + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The RFC 9162 hash of an interior node: ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _is_hash(value: Any) -> bool:
    return isinstance(value, bytes | bytearray) and len(value) == HASH_SIZE


def _is_size(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _hashes_ok(proof: Any) -> bool:
    return isinstance(proof, Sequence) and all(_is_hash(p) for p in proof)


def verify_inclusion(
    leaf_hash: bytes,
    index: int,
    tree_size: int,
    proof: Sequence[bytes],
    root: bytes,
) -> bool:
    """True if ``proof`` puts ``leaf_hash`` at ``index`` of the tree (``tree_size``, ``root``).

    RFC 9162 section 2.1.3.2, step for step. ``leaf_hash`` is the hashed leaf
    (see :func:`leaf_hash`), not the leaf's data. Take ``tree_size`` and
    ``root`` from the same tree head: a root does not encode its size, so a
    proof for a smaller tree can verify against that smaller tree's root under
    some larger ``tree_size`` (e.g. leaf 0 of 3 leaves "in" a tree of 4).
    """
    if not (_is_hash(leaf_hash) and _is_hash(root) and _hashes_ok(proof)):
        return False
    if not (_is_size(index) and _is_size(tree_size)):
        return False
    # 1. leaf_index >= tree_size fails.
    if index >= tree_size:
        return False
    # 2-3.
    fn, sn = index, tree_size - 1
    r = bytes(leaf_hash)
    # 4.
    for p in proof:
        if sn == 0:  # a. more proof than tree
            return False
        if fn & 1 or fn == sn:  # b.
            r = node_hash(p, r)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1  # c.
        sn >>= 1
    # 5.
    return sn == 0 and hmac.compare_digest(r, root)


def verify_consistency(
    size1: int,
    size2: int,
    proof: Sequence[bytes],
    root1: bytes,
    root2: bytes,
) -> bool:
    """True if ``proof`` shows the tree (``size2``, ``root2``) extends (``size1``, ``root1``).

    RFC 9162 section 2.1.4.2, step for step, for ``0 < size1 < size2``. The RFC
    leaves two trivial cases open; as other CT verifiers do, a tree is
    consistent with itself (equal sizes, equal roots, empty proof), and the
    empty tree (``root1`` is :data:`EMPTY_ROOT`) with every tree (empty proof).
    """
    if not (_is_hash(root1) and _is_hash(root2) and _hashes_ok(proof)):
        return False
    if not (_is_size(size1) and _is_size(size2)) or size1 > size2:
        return False
    if size1 == size2:
        return len(proof) == 0 and hmac.compare_digest(root1, root2)
    if size1 == 0:
        return len(proof) == 0 and hmac.compare_digest(root1, EMPTY_ROOT)
    # 1. An empty path proves nothing.
    if len(proof) == 0:
        return False
    # 2. A power-of-two first tree is itself a node of the second: the proof omits it.
    path = [bytes(root1), *proof] if size1 & (size1 - 1) == 0 else list(proof)
    # 3-4.
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5.
    fr = sr = bytes(path[0])
    # 6.
    for c in path[1:]:
        if sn == 0:  # a.
            return False
        if fn & 1 or fn == sn:  # b.
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1  # c.
        sn >>= 1
    # 7.
    return sn == 0 and hmac.compare_digest(fr, root1) and hmac.compare_digest(sr, root2)


def _hashes_from_hex(values: Any) -> tuple[bytes, ...]:
    if not isinstance(values, list | tuple):
        raise ValueError("'hashes' must be a list of hex strings")
    hashes = tuple(bytes.fromhex(v) if isinstance(v, str) else b"" for v in values)
    if not all(_is_hash(h) for h in hashes):
        raise ValueError(f"every hash must be {HASH_SIZE} bytes of hex")
    return hashes


def _size_from(data: Any, key: str) -> int:
    if not isinstance(data, dict) or key not in data:
        raise ValueError(f"missing {key!r}")
    value = data[key]
    if not _is_size(value):
        raise ValueError(f"{key!r} must be a non-negative integer, not {value!r}")
    return int(value)


@dataclass(frozen=True)
class InclusionProof:
    """An audit path (RFC 9162 section 2.1.3) for one leaf of a tree of ``tree_size``."""

    leaf_index: int
    tree_size: int
    hashes: tuple[bytes, ...] = field(default=())

    def verify(self, leaf_hash: bytes, root: bytes) -> bool:
        """True if this proof places ``leaf_hash`` under ``root``."""
        return verify_inclusion(leaf_hash, self.leaf_index, self.tree_size, self.hashes, root)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form, hashes as lowercase hex."""
        return {
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "hashes": [h.hex() for h in self.hashes],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "InclusionProof":
        """Read :meth:`to_dict`'s output back; ``ValueError`` if it is malformed."""
        return cls(
            _size_from(data, "leaf_index"),
            _size_from(data, "tree_size"),
            _hashes_from_hex(data.get("hashes")),
        )


@dataclass(frozen=True)
class ConsistencyProof:
    """A consistency proof (RFC 9162 section 2.1.4) from ``size1`` to ``size2``."""

    size1: int
    size2: int
    hashes: tuple[bytes, ...] = field(default=())

    def verify(self, root1: bytes, root2: bytes) -> bool:
        """True if this proof shows the tree with ``root2`` extends the one with ``root1``."""
        return verify_consistency(self.size1, self.size2, self.hashes, root1, root2)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form, hashes as lowercase hex."""
        return {
            "size1": self.size1,
            "size2": self.size2,
            "hashes": [h.hex() for h in self.hashes],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ConsistencyProof":
        """Read :meth:`to_dict`'s output back; ``ValueError`` if it is malformed."""
        return cls(
            _size_from(data, "size1"),
            _size_from(data, "size2"),
            _hashes_from_hex(data.get("hashes")),
        )
