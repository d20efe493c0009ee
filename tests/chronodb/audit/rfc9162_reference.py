"""A naive Merkle tree written straight from RFC 9162's recursive definitions.

Independent of ``chronodb.audit`` on purpose (it shares no code with it), so the
tests compare two implementations: MTH (section 2.1.1), PATH (2.1.3.1) and
PROOF/SUBPROOF (2.1.4.1), each on the list ``D[n]`` of leaves as the RFC writes
them, with slices memoised by their bounds so that trees of a few hundred leaves
stay quick.
"""

from __future__ import annotations

import hashlib
from functools import cache

# The leaves of the certificate-transparency reference tests (merkle_tree_test.cc).
CT_LEAVES: tuple[bytes, ...] = (
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
)


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def largest_power_of_two_below(n: int) -> int:
    """k < n <= 2k, as in the RFC (n > 1)."""
    k = 1
    while 2 * k < n:
        k *= 2
    return k


class ReferenceTree:
    """MTH, PATH and PROOF over a fixed list of leaves, as the RFC defines them."""

    def __init__(self, leaves: list[bytes] | tuple[bytes, ...]) -> None:
        self.leaves = tuple(leaves)
        self.mth = cache(self._mth)

    def _mth(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi])."""
        n = hi - lo
        if n == 0:
            return sha256(b"")
        if n == 1:
            return sha256(b"\x00" + self.leaves[lo])
        k = largest_power_of_two_below(n)
        return sha256(b"\x01" + self.mth(lo, lo + k) + self.mth(lo + k, hi))

    def root(self, n: int) -> bytes:
        return self.mth(0, n)

    def path(self, m: int, lo: int, hi: int) -> list[bytes]:
        """PATH(m, D[lo:hi]) with m relative to lo."""
        n = hi - lo
        if n == 1:
            return []
        k = largest_power_of_two_below(n)
        if m < k:
            return [*self.path(m, lo, lo + k), self.mth(lo + k, hi)]
        return [*self.path(m - k, lo + k, hi), self.mth(lo, lo + k)]

    def inclusion(self, m: int, n: int) -> list[bytes]:
        return self.path(m, 0, n)

    def subproof(self, m: int, lo: int, hi: int, b: bool) -> list[bytes]:
        """SUBPROOF(m, D[lo:hi], b)."""
        n = hi - lo
        if m == n:
            return [] if b else [self.mth(lo, hi)]
        k = largest_power_of_two_below(n)
        if m <= k:
            return [*self.subproof(m, lo, lo + k, b), self.mth(lo + k, hi)]
        return [*self.subproof(m - k, lo + k, hi, False), self.mth(lo, lo + k)]

    def consistency(self, m: int, n: int) -> list[bytes]:
        """PROOF(m, D[n]); empty when there is nothing to prove (m == 0 or m == n)."""
        if m in (0, n):
            return []
        return self.subproof(m, 0, n, True)


def leaf_bytes(i: int) -> bytes:
    """A distinct leaf for index i, for trees larger than the CT vectors."""
    return b"leaf-%d" % i
