"""The ledger's Merkle math agrees with RFC 9162, its reference vectors, and a naive model.

Reference vectors are those of the Go reference implementation (transparency-dev/merkle,
``testonly/constants.go`` and ``proof/verify_test.go``), which carry over the Certificate
Transparency C++ test data. The naive model below is the RFC's recursive definitions
written out literally over a list of leaves, sharing no code with ``caratflow.ledger.merkle``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from caratflow.ledger.merkle import (
    EMPTY_ROOT,
    MemoryNodeStore,
    Node,
    append_many,
    append_nodes,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    subtree_root,
    verify_consistency,
    verify_inclusion,
)

EXHAUSTIVE_SIZE = 80
"""Every size, index and pair of sizes up to here is checked, corruptions included."""

LARGE_SIZE = 3_000
"""Hypothesis samples sizes up to here from one shared tree."""

# ---------------------------------------------------------------------------- reference data

REFERENCE_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]

REFERENCE_ROOTS = {  # testonly.RootHashes(), by tree size
    0: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    2: "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    3: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    4: "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    5: "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    6: "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    7: "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}

REFERENCE_NODES = [  # testonly.NodeHashes(): [level][index]
    [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    [
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    [
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    ["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
]

# proof/verify_test.go, with the Go file's 1-based leaf numbers turned into 0-based indexes.
REFERENCE_INCLUSION_PROOFS = {  # (index, size): path
    (0, 1): [],
    (0, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (5, 8): [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
    (2, 3): ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    (1, 5): [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
}

REFERENCE_CONSISTENCY_PROOFS = {  # (old_size, new_size): proof
    (1, 1): [],
    (1, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (6, 8): [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
    (2, 5): [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
    (6, 7): [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
}

SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def hexes(hashes: list[bytes]) -> list[str]:
    return [h.hex() for h in hashes]


# ---------------------------------------------------------------------------- naive model


def naive_mth(leaves: list[bytes]) -> bytes:
    """MTH(D[n]) of RFC 9162 §2.1.1, literally, over already hashed leaves."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    split = naive_split(len(leaves))
    return hashlib.sha256(b"\x01" + naive_mth(leaves[:split]) + naive_mth(leaves[split:])).digest()


def naive_split(count: int) -> int:
    split = 1
    while split * 2 < count:
        split *= 2
    return split


def naive_path(index: int, leaves: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 §2.1.3.1."""
    if len(leaves) == 1:
        return []
    split = naive_split(len(leaves))
    if index < split:
        return [*naive_path(index, leaves[:split]), naive_mth(leaves[split:])]
    return [*naive_path(index - split, leaves[split:]), naive_mth(leaves[:split])]


def naive_subproof(old_size: int, leaves: list[bytes], whole: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) of RFC 9162 §2.1.4.1."""
    if old_size == len(leaves):
        return [] if whole else [naive_mth(leaves)]
    split = naive_split(len(leaves))
    if old_size <= split:
        return [*naive_subproof(old_size, leaves[:split], whole), naive_mth(leaves[split:])]
    return [*naive_subproof(old_size - split, leaves[split:], False), naive_mth(leaves[:split])]


# ---------------------------------------------------------------------------- helpers


def leaves_for(count: int) -> list[bytes]:
    return [leaf_hash(b"leaf %d" % number) for number in range(count)]


def store_with(leaves: list[bytes]) -> MemoryNodeStore:
    store = MemoryNodeStore()
    store.put_many(append_many(0, leaves, store))
    return store


class CountingStore:
    """Counts reads, to show proofs touch O(log n) nodes and not every leaf."""

    def __init__(self, store: MemoryNodeStore) -> None:
        self.store = store
        self.reads = 0

    def get(self, level: int, index: int) -> bytes:
        self.reads += 1
        return self.store.get(level, index)


def flip_bit(value: bytes, bit: int) -> bytes:
    changed = bytearray(value)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


def altered_proofs(proof: list[bytes], *, extras: list[bytes]) -> Iterator[tuple[str, list[bytes]]]:
    """Every way of spoiling a proof that the Go reference tests, and a few more."""
    for position in range(len(proof)):
        for bit in (0, 3, 4, 255):
            changed = list(proof)
            changed[position] = flip_bit(proof[position], bit)
            yield f"bit {bit} of element {position} flipped", changed
        yield f"element {position} dropped", proof[:position] + proof[position + 1 :]
        yield (
            f"element {position} truncated",
            [*proof[:position], proof[position][:31], *proof[position + 1 :]],
        )
    if len(proof) > 1:
        yield "first two elements swapped", [proof[1], proof[0], *proof[2:]]
        yield "element inserted", [proof[0], SOME_HASH, *proof[1:]]
    for extra in [SOME_HASH, *extras]:
        yield f"{extra.hex()[:8]} appended", [*proof, extra]
        yield f"{extra.hex()[:8]} prepended", [extra, *proof]
    yield "empty element appended", [*proof, b""]


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def exhaustive_leaves() -> list[bytes]:
    return leaves_for(EXHAUSTIVE_SIZE)


@pytest.fixture(scope="module")
def exhaustive_store(exhaustive_leaves: list[bytes]) -> MemoryNodeStore:
    return store_with(exhaustive_leaves)


@pytest.fixture(scope="module")
def naive_roots(exhaustive_leaves: list[bytes]) -> list[bytes]:
    return [naive_mth(exhaustive_leaves[:size]) for size in range(EXHAUSTIVE_SIZE + 1)]


LARGE_LEAVES = leaves_for(LARGE_SIZE)
LARGE_STORE = store_with(LARGE_LEAVES)


# ---------------------------------------------------------------------------- hashing


def test_leaf_and_node_hashes_use_the_rfc_domain_prefixes() -> None:
    assert leaf_hash(b"") == bytes.fromhex(REFERENCE_ROOTS[1])
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    left, right = b"L" * 32, b"R" * 32
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    assert EMPTY_ROOT.hex() == REFERENCE_ROOTS[0]


def test_roots_match_the_reference_vectors_for_sizes_0_to_8() -> None:
    store = store_with([leaf_hash(data) for data in REFERENCE_LEAVES])
    assert {size: root(size, store).hex() for size in range(9)} == REFERENCE_ROOTS


def test_every_stored_node_matches_the_reference_node_hashes() -> None:
    store = store_with([leaf_hash(data) for data in REFERENCE_LEAVES])
    stored = [
        [store.get(level, index).hex() for index in range(len(row))]
        for level, row in enumerate(REFERENCE_NODES)
    ]
    assert stored == REFERENCE_NODES
    assert len(store) == 8 + 4 + 2 + 1


@pytest.mark.parametrize(("index", "size"), sorted(REFERENCE_INCLUSION_PROOFS))
def test_inclusion_proofs_match_the_reference_vectors(index: int, size: int) -> None:
    store = store_with([leaf_hash(data) for data in REFERENCE_LEAVES])
    proof = inclusion_proof(index, size, store)
    assert hexes(proof) == REFERENCE_INCLUSION_PROOFS[(index, size)]
    expected_root = bytes.fromhex(REFERENCE_ROOTS[size])
    assert verify_inclusion(leaf_hash(REFERENCE_LEAVES[index]), index, size, proof, expected_root)


@pytest.mark.parametrize(("old_size", "new_size"), sorted(REFERENCE_CONSISTENCY_PROOFS))
def test_consistency_proofs_match_the_reference_vectors(old_size: int, new_size: int) -> None:
    store = store_with([leaf_hash(data) for data in REFERENCE_LEAVES])
    proof = consistency_proof(old_size, new_size, store)
    assert hexes(proof) == REFERENCE_CONSISTENCY_PROOFS[(old_size, new_size)]
    old_root = bytes.fromhex(REFERENCE_ROOTS[old_size])
    new_root = bytes.fromhex(REFERENCE_ROOTS[new_size])
    assert verify_consistency(old_size, new_size, old_root, new_root, proof)


# ---------------------------------------------------------------------------- appending


def test_appending_one_leaf_returns_the_leaf_and_every_parent_it_completes() -> None:
    store = store_with([leaf_hash(data) for data in REFERENCE_LEAVES[:7]])
    new_nodes = append_nodes(7, leaf_hash(REFERENCE_LEAVES[7]), store)
    assert [(level, index) for level, index, _ in new_nodes] == [(0, 7), (1, 3), (2, 1), (3, 0)]
    assert [node.hex() for _, _, node in new_nodes] == [
        REFERENCE_NODES[0][7],
        REFERENCE_NODES[1][3],
        REFERENCE_NODES[2][1],
        REFERENCE_NODES[3][0],
    ]


def test_appending_at_an_even_size_creates_only_the_leaf() -> None:
    store = store_with(leaves_for(6))
    assert append_nodes(6, SOME_HASH, store) == [(0, 6, SOME_HASH)]


def test_append_refuses_a_leaf_that_is_not_a_hash() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        append_nodes(0, b"raw data, not hashed", MemoryNodeStore())


def test_a_stored_node_cannot_be_replaced() -> None:
    store = store_with(leaves_for(2))
    store.put(0, 1, store.get(0, 1))  # writing the same hash again is harmless
    with pytest.raises(ValueError, match="already stored"):
        store.put(0, 1, SOME_HASH)


def test_missing_nodes_raise_key_error() -> None:
    store = store_with(leaves_for(3))
    for level, index in [(0, 3), (1, 1), (2, 0), (7, 0), (-1, 0)]:
        with pytest.raises(KeyError):
            store.get(level, index)
    with pytest.raises(KeyError):
        root(4, store)


@settings(max_examples=60, deadline=None)
@given(
    initial=st.integers(min_value=0, max_value=300),
    batch_sizes=st.lists(st.integers(min_value=0, max_value=70), max_size=6),
)
def test_batch_append_equals_one_by_one_append(initial: int, batch_sizes: list[int]) -> None:
    leaves = leaves_for(initial + sum(batch_sizes))

    one_by_one = MemoryNodeStore()
    one_by_one_nodes: list[Node] = []
    for size, leaf in enumerate(leaves):
        created = append_nodes(size, leaf, one_by_one)
        one_by_one.put_many(created)
        one_by_one_nodes.extend(created)

    batched = MemoryNodeStore()
    batched_nodes: list[Node] = []
    size = 0
    for batch_size in [initial, *batch_sizes]:
        created = append_many(size, leaves[size : size + batch_size], batched)
        batched.put_many(created)  # written only after the whole batch is computed
        batched_nodes.extend(created)
        size += batch_size

    assert batched_nodes == one_by_one_nodes
    assert len(batched) == len(one_by_one) == 2 * len(leaves) - bin(len(leaves)).count("1")
    assert root(len(leaves), batched) == naive_mth(leaves)


def test_batch_append_sees_its_own_nodes_before_they_are_written() -> None:
    store = store_with(leaves_for(3))
    created = append_many(3, leaves_for(5)[3:], store)
    assert [(level, index) for level, index, _ in created] == [(0, 3), (1, 1), (2, 0), (0, 4)]
    with pytest.raises(KeyError):
        store.get(2, 0)  # append_many only computes; the caller writes


# ---------------------------------------------------------------------------- roots


def test_subtree_roots_match_the_naive_mth_for_every_aligned_range(
    exhaustive_leaves: list[bytes], exhaustive_store: MemoryNodeStore
) -> None:
    checked = 0
    for start in range(EXHAUSTIVE_SIZE + 1):
        for end in range(start, EXHAUSTIVE_SIZE + 1):
            count = end - start
            if count and start % (1 << (count.bit_length() - 1)):
                continue
            got = subtree_root(start, end, exhaustive_store)
            assert got == naive_mth(exhaustive_leaves[start:end]), (start, end)
            checked += 1
    assert checked == 521


@pytest.mark.parametrize(("start", "end"), [(1, 3), (3, 7), (2, 6), (4, 12), (6, 10)])
def test_subtree_root_refuses_ranges_that_would_need_every_leaf(start: int, end: int) -> None:
    with pytest.raises(ValueError, match="not aligned"):
        subtree_root(start, end, LARGE_STORE)


def test_roots_of_every_size_match_the_naive_mth(
    exhaustive_store: MemoryNodeStore, naive_roots: list[bytes]
) -> None:
    assert [root(size, exhaustive_store) for size in range(EXHAUSTIVE_SIZE + 1)] == naive_roots


@settings(max_examples=200, deadline=None)
@given(size=st.integers(min_value=0, max_value=LARGE_SIZE))
def test_large_roots_match_the_naive_mth(size: int) -> None:
    assert root(size, LARGE_STORE) == naive_mth(LARGE_LEAVES[:size])


# ---------------------------------------------------------------------------- inclusion


@pytest.mark.parametrize("size", range(1, EXHAUSTIVE_SIZE + 1))
def test_every_inclusion_proof_verifies_and_every_alteration_fails(
    size: int,
    exhaustive_leaves: list[bytes],
    exhaustive_store: MemoryNodeStore,
    naive_roots: list[bytes],
) -> None:
    tree_root = naive_roots[size]
    for index in range(size):
        leaf = exhaustive_leaves[index]
        proof = inclusion_proof(index, size, exhaustive_store)
        assert proof == naive_path(index, exhaustive_leaves[:size]), index
        assert verify_inclusion(leaf, index, size, proof, tree_root), index

        for description, altered in altered_proofs(proof, extras=[tree_root, leaf]):
            assert not verify_inclusion(leaf, index, size, altered, tree_root), (
                index,
                description,
            )
        wrong_places = {index - 1, index + 1, index ^ 2, index ^ 1, size, -1}
        for wrong_index in wrong_places - {index}:
            assert not verify_inclusion(leaf, wrong_index, size, proof, tree_root), (
                index,
                wrong_index,
            )
        # Sizes whose paths have the same shape (e.g. index 0 of 5..8 leaves) cannot be told
        # apart by the proof alone, by design; the signed tree head binds size to root.
        for wrong_size in {size * 2, size // 2, index, 0} - {size}:
            assert not verify_inclusion(leaf, index, wrong_size, proof, tree_root), (
                index,
                wrong_size,
            )
        for wrong_root in (EMPTY_ROOT, SOME_HASH, naive_roots[size - 1], flip_bit(tree_root, 9)):
            assert not verify_inclusion(leaf, index, size, proof, wrong_root), index
        assert not verify_inclusion(SOME_HASH, index, size, proof, tree_root), index
        # a root of a taller tree, with the proof padded to reach it, is not this tree's root
        taller_root = node_hash(SOME_HASH, tree_root)
        assert not verify_inclusion(leaf, index, size, [*proof, SOME_HASH], taller_root), index
        if size > 1:
            other_leaf = exhaustive_leaves[(index + 1) % size]
            assert not verify_inclusion(other_leaf, index, size, proof, tree_root), index


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_inclusion_proofs_in_larger_trees(data: st.DataObject) -> None:
    size = data.draw(st.integers(min_value=1, max_value=LARGE_SIZE), label="size")
    index = data.draw(st.integers(min_value=0, max_value=size - 1), label="index")
    tree_root = root(size, LARGE_STORE)
    proof = inclusion_proof(index, size, LARGE_STORE)
    assert verify_inclusion(LARGE_LEAVES[index], index, size, proof, tree_root)
    assert len(proof) <= (size - 1).bit_length()

    if proof:
        position = data.draw(st.integers(0, len(proof) - 1), label="position")
        bit = data.draw(st.integers(0, 255), label="bit")
        altered = list(proof)
        altered[position] = flip_bit(proof[position], bit)
        assert not verify_inclusion(LARGE_LEAVES[index], index, size, altered, tree_root)
    other_index = data.draw(st.integers(0, LARGE_SIZE), label="other_index")
    if other_index != index:
        assert not verify_inclusion(LARGE_LEAVES[index], other_index, size, proof, tree_root)


@pytest.mark.parametrize(
    ("index", "size", "proof", "leaf", "tree_root"),
    [
        (0, 0, [], SOME_HASH, EMPTY_ROOT),  # nothing is in an empty tree
        (1, 0, [], SOME_HASH, EMPTY_ROOT),
        (2, 1, [], SOME_HASH, SOME_HASH),
        (0, 1, [], SOME_HASH, b""),  # root of the wrong length
        (0, 1, [], b"", b""),
        (0, 1, [], "not bytes", SOME_HASH),
        (0, 2, "not a list", SOME_HASH, SOME_HASH),
        (0, 2, SOME_HASH, SOME_HASH, SOME_HASH),  # one hash instead of a list of hashes
        (0, 2, None, SOME_HASH, SOME_HASH),
        (0, 2, [None], SOME_HASH, SOME_HASH),
        (0, 2, [SOME_HASH.hex()], SOME_HASH, SOME_HASH),
        (-1, 2, [SOME_HASH], SOME_HASH, SOME_HASH),
        (True, 2, [SOME_HASH], SOME_HASH, SOME_HASH),
        (0, 2.0, [SOME_HASH], SOME_HASH, SOME_HASH),
        ("0", 2, [SOME_HASH], SOME_HASH, SOME_HASH),
    ],
)
def test_malformed_inclusion_checks_return_false(
    index: object, size: object, proof: object, leaf: object, tree_root: object
) -> None:
    assert verify_inclusion(leaf, index, size, proof, tree_root) is False  # type: ignore[arg-type]


def test_a_single_leaf_tree_is_its_own_root() -> None:
    leaf = leaf_hash(b"data")
    assert verify_inclusion(leaf, 0, 1, [], leaf)
    assert not verify_inclusion(leaf, 0, 1, [], SOME_HASH)


def test_inclusion_proof_refuses_an_index_outside_the_tree() -> None:
    for index, size in [(0, 0), (3, 3), (-1, 3)]:
        with pytest.raises(ValueError, match="outside"):
            inclusion_proof(index, size, LARGE_STORE)


# ---------------------------------------------------------------------------- consistency


@pytest.mark.parametrize("new_size", range(1, EXHAUSTIVE_SIZE + 1))
def test_every_consistency_proof_verifies_and_every_alteration_fails(
    new_size: int,
    exhaustive_leaves: list[bytes],
    exhaustive_store: MemoryNodeStore,
    naive_roots: list[bytes],
) -> None:
    new_root = naive_roots[new_size]
    for old_size in range(0, new_size + 1):
        old_root = naive_roots[old_size]
        proof = consistency_proof(old_size, new_size, exhaustive_store)
        if 0 < old_size < new_size:
            assert proof == naive_subproof(old_size, exhaustive_leaves[:new_size], True)
        else:
            assert proof == []
        assert verify_consistency(old_size, new_size, old_root, new_root, proof), old_size

        if not proof:
            continue  # the trivial cases are checked one by one below
        for description, altered in altered_proofs(proof, extras=[old_root, new_root, proof[0]]):
            assert not verify_consistency(old_size, new_size, old_root, new_root, altered), (
                old_size,
                description,
            )
        assert not verify_consistency(old_size, new_size, old_root, new_root, [])
        taller_root = node_hash(SOME_HASH, new_root)
        padded = [*proof, SOME_HASH]
        assert not verify_consistency(old_size, new_size, old_root, taller_root, padded)
        for wrong_old in {old_size - 1, old_size + 1, old_size ^ 2, 0, new_size} - {old_size}:
            assert not verify_consistency(wrong_old, new_size, old_root, new_root, proof), (
                old_size,
                wrong_old,
            )
        # as for inclusion, only sizes that change the proof's shape can be caught here
        for wrong_new in {new_size * 2, new_size // 2, old_size - 1} - {new_size}:
            assert not verify_consistency(old_size, wrong_new, old_root, new_root, proof), (
                old_size,
                wrong_new,
            )
        wrong_roots = [
            (new_root, new_root),
            (old_root, old_root),
            (new_root, old_root),
            (SOME_HASH, new_root),
            (old_root, SOME_HASH),
            (flip_bit(old_root, 200), new_root),
            (old_root, flip_bit(new_root, 200)),
        ]
        for wrong_old_root, wrong_new_root in wrong_roots:
            assert not verify_consistency(
                old_size, new_size, wrong_old_root, wrong_new_root, proof
            ), old_size


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_consistency_proofs_in_larger_trees(data: st.DataObject) -> None:
    new_size = data.draw(st.integers(min_value=1, max_value=LARGE_SIZE), label="new_size")
    old_size = data.draw(st.integers(min_value=1, max_value=new_size), label="old_size")
    old_root, new_root = root(old_size, LARGE_STORE), root(new_size, LARGE_STORE)
    proof = consistency_proof(old_size, new_size, LARGE_STORE)
    assert verify_consistency(old_size, new_size, old_root, new_root, proof)
    assert len(proof) <= 2 * new_size.bit_length()

    if proof:
        position = data.draw(st.integers(0, len(proof) - 1), label="position")
        bit = data.draw(st.integers(0, 255), label="bit")
        altered = list(proof)
        altered[position] = flip_bit(proof[position], bit)
        assert not verify_consistency(old_size, new_size, old_root, new_root, altered)
        assert not verify_consistency(old_size, new_size, old_root, new_root, proof[:-1])
    # a log that rewrote history: same sizes, one early leaf changed
    rewritten = list(LARGE_LEAVES[:new_size])
    rewritten[data.draw(st.integers(0, old_size - 1), label="rewritten")] = SOME_HASH
    assert not verify_consistency(old_size, new_size, old_root, naive_mth(rewritten), proof)


@pytest.mark.parametrize(
    ("old_size", "new_size", "old_root", "new_root", "proof", "expected"),
    [
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [], True),
        (0, 0, EMPTY_ROOT, SOME_HASH, [], False),
        (0, 0, SOME_HASH, SOME_HASH, [], False),  # an empty tree has exactly one root
        (0, 1, EMPTY_ROOT, SOME_HASH, [], True),  # everything extends the empty tree
        (0, 1, SOME_HASH, SOME_HASH, [], False),
        (0, 1, EMPTY_ROOT, SOME_HASH, [EMPTY_ROOT], False),
        (1, 1, SOME_HASH, SOME_HASH, [], True),
        (1, 1, SOME_HASH, EMPTY_ROOT, [], False),
        (1, 1, SOME_HASH, SOME_HASH, [SOME_HASH], False),
        (1, 0, SOME_HASH, EMPTY_ROOT, [], False),  # trees never shrink
        (2, 1, SOME_HASH, SOME_HASH, [], False),
        (1, 2, SOME_HASH, EMPTY_ROOT, [], False),  # growth needs a proof
        (1, 2, b"short", EMPTY_ROOT, [SOME_HASH], False),
        (1, 2, SOME_HASH, EMPTY_ROOT, SOME_HASH, False),
        (1, 2, SOME_HASH, EMPTY_ROOT, None, False),
        (-1, 2, SOME_HASH, EMPTY_ROOT, [SOME_HASH], False),
        (1, "2", SOME_HASH, EMPTY_ROOT, [SOME_HASH], False),
    ],
)
def test_trivial_and_malformed_consistency_checks(
    old_size: object,
    new_size: object,
    old_root: object,
    new_root: object,
    proof: object,
    expected: bool,
) -> None:
    got = verify_consistency(old_size, new_size, old_root, new_root, proof)  # type: ignore[arg-type]
    assert got is expected


def test_consistency_proof_refuses_a_shrinking_tree() -> None:
    with pytest.raises(ValueError, match="consistent"):
        consistency_proof(5, 4, LARGE_STORE)


# ---------------------------------------------------------------------------- cost


ProofMaker = Callable[[CountingStore, int], object]


@pytest.mark.parametrize("size", [1, 2, 3, 1023, 1024, 1025, 2047, 2999, 3000])
def test_proofs_read_a_logarithmic_number_of_nodes(size: int) -> None:
    """O(log n) reads: at most 2 per level for inclusion, 3 per level for consistency."""
    counting = CountingStore(LARGE_STORE)
    levels = size.bit_length()
    worst_inclusion = worst_consistency = 0
    for index in range(0, size, max(1, size // 97)):
        counting.reads = 0
        inclusion_proof(index, size, counting)
        worst_inclusion = max(worst_inclusion, counting.reads)
        counting.reads = 0
        consistency_proof(index + 1, size, counting)
        worst_consistency = max(worst_consistency, counting.reads)
    assert worst_inclusion <= 2 * levels
    assert worst_consistency <= 3 * levels
    counting.reads = 0
    root(size, counting)
    assert counting.reads == bin(size).count("1")


def test_appending_reads_only_the_left_siblings() -> None:
    counting = CountingStore(store_with(leaves_for(1023)))
    created = append_nodes(1023, SOME_HASH, counting)
    assert len(created) == 11
    assert counting.reads == 10


def test_memory_store_leaves_no_readable_gap_when_nodes_arrive_out_of_order() -> None:
    store = MemoryNodeStore()
    store.put(0, 3, SOME_HASH)
    assert store.get(0, 3) == SOME_HASH
    for index in range(3):
        with pytest.raises(KeyError):
            store.get(0, index)
    store.put(0, 1, EMPTY_ROOT)
    assert (store.get(0, 1), len(store), store.size) == (EMPTY_ROOT, 2, 4)
