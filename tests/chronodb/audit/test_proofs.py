"""The standalone verifiers of chronodb.audit.proofs, checked against proofs built
by the naive RFC 9162 reference (so nothing here depends on the Merkle tree code)."""

from __future__ import annotations

import ast
import hashlib
import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rfc9162_reference import CT_LEAVES, ReferenceTree, leaf_bytes

from chronodb.audit import proofs
from chronodb.audit.proofs import (
    EMPTY_ROOT,
    ConsistencyProof,
    InclusionProof,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)

MAX_SIZE = 200
REF = ReferenceTree([leaf_bytes(i) for i in range(MAX_SIZE)])
CT = ReferenceTree(CT_LEAVES)


def flip(data: bytes, bit: int) -> bytes:
    """``data`` with one bit inverted."""
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def flip_one(
    data: st.DataObject, first: bytes, second: bytes, path: list[bytes]
) -> tuple[bytes, bytes, list[bytes]]:
    """Flip one bit, chosen by hypothesis, in ``first``, ``second`` or one hash of ``path``."""
    target = data.draw(st.integers(-2, len(path) - 1), label="which hash")
    bit = data.draw(st.integers(0, 255), label="bit")
    if target == -2:
        return flip(first, bit), second, path
    if target == -1:
        return first, flip(second, bit), path
    return first, second, [*path[:target], flip(path[target], bit), *path[target + 1 :]]


def lh(tree: ReferenceTree, i: int) -> bytes:
    return hashlib.sha256(b"\x00" + tree.leaves[i]).digest()


# -- hashing ---------------------------------------------------------------------


def test_hashes_use_the_rfc_domain_separation_prefixes():
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert (
        node_hash(b"L" * 32, b"R" * 32) == hashlib.sha256(b"\x01" + b"L" * 32 + b"R" * 32).digest()
    )
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


# -- inclusion -------------------------------------------------------------------


def test_every_inclusion_proof_of_trees_1_to_200_verifies():
    for n in range(1, MAX_SIZE + 1):
        root = REF.root(n)
        for i in range(n):
            assert verify_inclusion(lh(REF, i), i, n, REF.inclusion(i, n), root), (i, n)


def test_flipping_any_bit_of_a_ct_inclusion_proof_leaf_or_root_fails():
    for n in range(1, len(CT_LEAVES) + 1):
        root = CT.root(n)
        for i in range(n):
            path = CT.inclusion(i, n)
            leaf = lh(CT, i)
            for bit in range(256):
                assert not verify_inclusion(flip(leaf, bit), i, n, path, root)
                assert not verify_inclusion(leaf, i, n, path, flip(root, bit))
                for k in range(len(path)):
                    bad = [*path[:k], flip(path[k], bit), *path[k + 1 :]]
                    assert not verify_inclusion(leaf, i, n, bad, root), (i, n, k, bit)


def test_flipping_a_bit_in_each_proof_hash_fails_for_trees_up_to_64():
    rng = random.Random(4)
    for n in range(1, 65):
        root = REF.root(n)
        for i in range(n):
            path = REF.inclusion(i, n)
            for k in range(len(path)):
                bad = [*path[:k], flip(path[k], rng.randrange(256)), *path[k + 1 :]]
                assert not verify_inclusion(lh(REF, i), i, n, bad, root)


def test_a_wrong_index_fails():
    for n in range(1, 65):
        root = REF.root(n)
        for i in range(n):
            path = REF.inclusion(i, n)
            for j in range(n + 2):
                if j != i:
                    assert not verify_inclusion(lh(REF, i), j, n, path, root), (i, j, n)


def test_a_wrong_size_fails_against_that_sizes_root():
    # tree_size and root come from one tree head; a proof made for another size
    # must not verify against a real head of a different size.
    for n in range(1, 65):
        for i in range(n):
            path = REF.inclusion(i, n)
            for wrong in range(i + 1, 70):
                if wrong != n:
                    assert not verify_inclusion(lh(REF, i), i, wrong, path, REF.root(wrong))


def test_index_at_or_beyond_the_size_fails_even_with_an_otherwise_good_proof():
    root = REF.root(8)
    path = REF.inclusion(7, 8)
    assert verify_inclusion(lh(REF, 7), 7, 8, path, root)
    assert not verify_inclusion(lh(REF, 7), 8, 8, path, root)
    assert not verify_inclusion(lh(REF, 0), 0, 0, [], EMPTY_ROOT)


def test_extra_or_missing_proof_nodes_fail():
    for n in (2, 3, 5, 8, 13, 64, 100, 200):
        root = REF.root(n)
        for i in (0, n // 2, n - 1):
            path = REF.inclusion(i, n)
            leaf = lh(REF, i)
            assert not verify_inclusion(leaf, i, n, [*path, path[-1]], root)
            assert not verify_inclusion(leaf, i, n, [*path, root], root)
            assert not verify_inclusion(leaf, i, n, path[:-1], root)
            assert not verify_inclusion(leaf, i, n, path[1:], root)


def test_malformed_inputs_return_false_instead_of_raising():
    leaf, root, path = lh(REF, 1), REF.root(4), REF.inclusion(1, 4)
    assert verify_inclusion(leaf, 1, 4, path, root)
    assert verify_inclusion(leaf, 1, 4, tuple(path), root)
    assert not verify_inclusion(leaf[:31], 1, 4, path, root)
    assert not verify_inclusion(leaf, 1, 4, path, root + b"\x00")
    assert not verify_inclusion(leaf, 1, 4, [*path[:-1], path[-1].hex()], root)
    assert not verify_inclusion(leaf, -1, 4, path, root)
    assert not verify_inclusion(leaf, 1, -4, path, root)
    assert not verify_inclusion(leaf, 1.0, 4, path, root)
    assert not verify_inclusion(leaf, True, 4, path, root)
    assert not verify_inclusion(leaf, 1, 4, None, root)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_single_bit_flip_in_a_large_tree_inclusion_proof_fails(data):
    n = data.draw(st.integers(2, MAX_SIZE), label="size")
    i = data.draw(st.integers(0, n - 1), label="index")
    leaf, root, path = flip_one(data, lh(REF, i), REF.root(n), REF.inclusion(i, n))
    assert not verify_inclusion(leaf, i, n, path, root)


# -- consistency -----------------------------------------------------------------


def consistency_pairs() -> list[tuple[int, int]]:
    """All (m, n) with 0 <= m <= n <= 64, then a seeded sample up to 200."""
    pairs = [(m, n) for n in range(1, 65) for m in range(n + 1)]
    rng = random.Random(9162)
    for n in range(65, MAX_SIZE + 1):
        pairs += [(m, n) for m in rng.sample(range(n + 1), 12)] + [(n - 1, n), (0, n), (n, n)]
    return pairs


def test_every_consistency_proof_verifies():
    for m, n in consistency_pairs():
        assert verify_consistency(m, n, REF.consistency(m, n), REF.root(m), REF.root(n)), (m, n)


def test_flipping_any_bit_of_a_ct_consistency_proof_or_either_root_fails():
    for n in range(2, len(CT_LEAVES) + 1):
        for m in range(1, n):
            path, r1, r2 = CT.consistency(m, n), CT.root(m), CT.root(n)
            for bit in range(256):
                assert not verify_consistency(m, n, path, flip(r1, bit), r2)
                assert not verify_consistency(m, n, path, r1, flip(r2, bit))
                for k in range(len(path)):
                    bad = [*path[:k], flip(path[k], bit), *path[k + 1 :]]
                    assert not verify_consistency(m, n, bad, r1, r2), (m, n, k, bit)


def test_wrong_sizes_fail_against_those_sizes_roots():
    for n in range(2, 40):
        for m in range(1, n):
            path = REF.consistency(m, n)
            for m2 in range(1, 42):
                if m2 != m:
                    assert not verify_consistency(m2, n, path, REF.root(m2), REF.root(n)), (m, m2)
                if m2 != n and m2 >= m:
                    assert not verify_consistency(m, m2, path, REF.root(m), REF.root(m2)), (n, m2)


def test_extra_or_missing_consistency_nodes_fail():
    for m, n in [(1, 2), (3, 7), (4, 8), (6, 8), (100, 200), (127, 128), (64, 200)]:
        path, r1, r2 = REF.consistency(m, n), REF.root(m), REF.root(n)
        assert verify_consistency(m, n, path, r1, r2)
        assert not verify_consistency(m, n, [*path, path[-1]], r1, r2)
        assert not verify_consistency(m, n, [*path, r2], r1, r2)
        assert not verify_consistency(m, n, path[:-1], r1, r2)
        assert not verify_consistency(m, n, path[1:], r1, r2)


def test_trivial_consistency_cases():
    r5 = REF.root(5)
    assert verify_consistency(5, 5, [], r5, r5)
    assert not verify_consistency(5, 5, [], r5, REF.root(6))
    assert not verify_consistency(5, 5, [r5], r5, r5)
    assert verify_consistency(0, 5, [], EMPTY_ROOT, r5)
    assert verify_consistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT)
    assert not verify_consistency(0, 5, [], r5, r5)
    assert not verify_consistency(0, 5, [r5], EMPTY_ROOT, r5)
    assert not verify_consistency(6, 5, REF.consistency(5, 6), REF.root(6), r5)
    assert not verify_consistency(3, 5, [], REF.root(3), r5)
    assert not verify_consistency(-1, 5, [], EMPTY_ROOT, r5)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_single_bit_flip_in_a_large_tree_consistency_proof_fails(data):
    n = data.draw(st.integers(2, MAX_SIZE), label="size2")
    m = data.draw(st.integers(1, n - 1), label="size1")
    r1, r2, path = flip_one(data, REF.root(m), REF.root(n), REF.consistency(m, n))
    assert not verify_consistency(m, n, path, r1, r2)


# -- proof objects ---------------------------------------------------------------


def test_inclusion_proof_round_trips_through_json_and_verifies():
    proof = InclusionProof(5, 13, tuple(REF.inclusion(5, 13)))
    data = json.loads(json.dumps(proof.to_dict()))
    assert data["hashes"][0] == REF.inclusion(5, 13)[0].hex()
    again = InclusionProof.from_dict(data)
    assert again == proof
    assert again.verify(lh(REF, 5), REF.root(13))
    assert not again.verify(lh(REF, 6), REF.root(13))


def test_consistency_proof_round_trips_through_json_and_verifies():
    proof = ConsistencyProof(7, 13, tuple(REF.consistency(7, 13)))
    again = ConsistencyProof.from_dict(json.loads(json.dumps(proof.to_dict())))
    assert again == proof
    assert again.verify(REF.root(7), REF.root(13))
    assert not again.verify(REF.root(6), REF.root(13))


@pytest.mark.parametrize(
    "data",
    [
        {"tree_size": 4, "hashes": []},
        {"leaf_index": -1, "tree_size": 4, "hashes": []},
        {"leaf_index": "1", "tree_size": 4, "hashes": []},
        {"leaf_index": 1, "tree_size": 4, "hashes": "00"},
        {"leaf_index": 1, "tree_size": 4, "hashes": ["00" * 31]},
        {"leaf_index": 1, "tree_size": 4, "hashes": ["zz" * 32]},
        {"leaf_index": 1, "tree_size": 4, "hashes": [7]},
        [],
    ],
)
def test_malformed_proof_dicts_raise_value_error(data):
    with pytest.raises(ValueError):
        InclusionProof.from_dict(data)


def test_malformed_consistency_dict_raises_value_error():
    with pytest.raises(ValueError):
        ConsistencyProof.from_dict({"size1": 1, "hashes": []})


# -- standalone ------------------------------------------------------------------


def test_proofs_module_imports_only_the_four_stdlib_modules():
    tree = ast.parse(Path(proofs.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported <= {"hashlib", "hmac", "dataclasses", "typing"}


def test_a_copy_of_proofs_py_verifies_a_proof_outside_chronodb(tmp_path):
    shutil.copy(proofs.__file__, tmp_path / "ledger_proofs.py")
    proof = InclusionProof(3, 7, tuple(REF.inclusion(3, 7)))
    (tmp_path / "proof.json").write_text(
        json.dumps({"proof": proof.to_dict(), "leaf": lh(REF, 3).hex(), "root": REF.root(7).hex()})
    )
    script = (
        "import importlib.util, json, ledger_proofs as p\n"
        "assert importlib.util.find_spec('chronodb') is None\n"
        "d = json.load(open('proof.json'))\n"
        "proof = p.InclusionProof.from_dict(d['proof'])\n"
        "print(proof.verify(bytes.fromhex(d['leaf']), bytes.fromhex(d['root'])))\n"
    )
    # -I -S: isolated and without site-packages, so chronodb cannot be imported.
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", f"import sys; sys.path.insert(0, '.')\n{script}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "True"
