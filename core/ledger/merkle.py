"""Merkle tree math of the ledger: RFC 9162 (Certificate Transparency v2) §2.1.

The ledger stores only *perfect* subtrees: once a subtree of 2^level leaves is complete its
hash never changes, so every node is written once and never updated. Any root, inclusion
proof or consistency proof is then assembled from O(log n) of those stored nodes, which a
database serves by primary key. Nothing here touches a database: storage goes through the
``NodeStore`` protocol, and the verifiers need no store at all, so another authority can
audit the log with this module alone.

Levels and indexes: the node at ``(level, index)`` covers leaves
``[index * 2**level, (index + 1) * 2**level)``; level 0 holds the leaf hashes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

HASH_SIZE = 32
"""Bytes in a SHA-256 digest: every leaf, node and root hash has this length."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH({}) — the root of the empty tree (RFC 9162 §2.1.1)."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

Node = tuple[int, int, bytes]
"""A stored node: (level, index, hash)."""


def leaf_hash(data: bytes) -> bytes:
    """MTH({d}) = SHA-256(0x00 ‖ d) (RFC 9162 §2.1.1).

    The 0x00 prefix keeps a leaf from ever being read as an interior node (second-preimage
    protection).
    """
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 ‖ left ‖ right): an interior node (RFC 9162 §2.1.1)."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


class NodeStore(Protocol):
    """Where the hashes of perfect subtrees live; the SQL ledger implements the same method."""

    def get(self, level: int, index: int) -> bytes:
        """Hash of the perfect subtree over leaves [index·2^level, (index+1)·2^level).

        Raises ``KeyError`` when that subtree is not stored (for example not yet complete).
        """
        ...


class MemoryNodeStore:
    """A ``NodeStore`` in memory: for tests, benchmarks and offline audits.

    One list per level, indexed by node index: appends fill each level left to right, so a
    list is smaller and faster than a dict (a million-leaf tree takes about 175 MB).
    ``put`` refuses to change a node that is already stored, because a stored node never
    legitimately changes.
    """

    def __init__(self) -> None:
        self._levels: list[list[bytes | None]] = []

    def get(self, level: int, index: int) -> bytes:
        if 0 <= level < len(self._levels):
            nodes = self._levels[level]
            if 0 <= index < len(nodes):
                node = nodes[index]
                if node is not None:
                    return node
        raise KeyError((level, index))

    def put(self, level: int, index: int, node: bytes) -> None:
        if level < 0 or index < 0:
            raise ValueError(f"no node at level {level}, index {index}")
        while len(self._levels) <= level:
            self._levels.append([])
        nodes = self._levels[level]
        if index < len(nodes):
            stored = nodes[index]
            if stored is not None and stored != node:
                raise ValueError(f"node ({level}, {index}) is already stored with another hash")
            nodes[index] = node
            return
        nodes.extend([None] * (index - len(nodes)))  # a gap only if nodes arrive out of order
        nodes.append(node)

    def put_many(self, nodes: Iterable[Node]) -> None:
        """Store what ``append_nodes`` / ``append_many`` returned."""
        for level, index, node in nodes:
            self.put(level, index, node)

    @property
    def size(self) -> int:
        """One past the highest leaf index stored: the tree size when leaves came in order."""
        return len(self._levels[0]) if self._levels else 0

    def __len__(self) -> int:
        return sum(node is not None for nodes in self._levels for node in nodes)


class _OverlaidStore:
    """Reads the nodes of a batch in progress first, then the store (append_many's view)."""

    __slots__ = ("_overlay", "_store")

    def __init__(self, store: NodeStore, overlay: Mapping[tuple[int, int], bytes]) -> None:
        self._store = store
        self._overlay = overlay

    def get(self, level: int, index: int) -> bytes:
        node = self._overlay.get((level, index))
        return node if node is not None else self._store.get(level, index)


# ---------------------------------------------------------------------------- appending


def append_nodes(
    size: int,
    leaf: bytes,
    store: NodeStore,
    overlay: Mapping[tuple[int, int], bytes] | None = None,
) -> list[Node]:
    """Every perfect node created by appending ``leaf`` (a leaf hash) to a tree of ``size``.

    The leaf itself comes first, then each parent completed by it: a node at an odd index
    completes its parent with its left sibling, which is already stored (or is in
    ``overlay``, the nodes of the batch not yet written). Reads at most log2(size) nodes.
    """
    _require_hash(leaf, "leaf")
    if size < 0:
        raise ValueError(f"tree size must be >= 0, got {size}")
    source = store if overlay is None else _OverlaidStore(store, overlay)
    new_nodes: list[Node] = [(0, size, leaf)]
    level, index, node = 0, size, leaf
    while index & 1:
        node = node_hash(source.get(level, index - 1), node)
        level += 1
        index >>= 1
        new_nodes.append((level, index, node))
    return new_nodes


def append_many(size: int, leaf_hashes: Iterable[bytes], store: NodeStore) -> list[Node]:
    """All perfect nodes created by appending a batch of leaf hashes to a tree of ``size``.

    The sequencer appends in batches (as Trillian does); nodes made earlier in the batch are
    kept in an overlay so later leaves of the same batch can pair with them before anything
    is written. The result equals appending the leaves one by one.
    """
    overlay: dict[tuple[int, int], bytes] = {}
    new_nodes: list[Node] = []
    for offset, leaf in enumerate(leaf_hashes):
        for level, index, node in append_nodes(size + offset, leaf, store, overlay):
            overlay[(level, index)] = node
            new_nodes.append((level, index, node))
    return new_nodes


# ---------------------------------------------------------------------------- roots


def subtree_root(start: int, end: int, store: NodeStore) -> bytes:
    """MTH(D[start:end]) (RFC 9162 §2.1.1) from at most log2(end - start) + 1 stored nodes.

    The range splits into perfect subtrees, largest first (the binary digits of its length),
    and MTH hashes them right to left. Those subtrees are stored nodes only when ``start``
    is a multiple of the largest power of two <= ``end - start``, which holds for every
    subtree a root or proof needs; any other range would mean re-hashing leaves, so it is
    refused with ``ValueError`` rather than silently costing O(n).
    """
    if not 0 <= start <= end:
        raise ValueError(f"invalid leaf range [{start}, {end})")
    count = end - start
    if count == 0:
        return EMPTY_ROOT
    top_level = count.bit_length() - 1
    if start & ((1 << top_level) - 1):
        raise ValueError(
            f"range [{start}, {end}) is not aligned to stored subtrees: start must be a "
            f"multiple of {1 << top_level}"
        )
    perfect: list[bytes] = []
    position, remaining = start, count
    while remaining:  # one pass per set bit of count, largest subtree first
        level = remaining.bit_length() - 1
        perfect.append(store.get(level, position >> level))
        position += 1 << level
        remaining -= 1 << level
    node = perfect.pop()
    while perfect:
        node = node_hash(perfect.pop(), node)
    return node


def root(size: int, store: NodeStore) -> bytes:
    """MTH of the first ``size`` leaves: the tree head's root hash (RFC 9162 §2.1.1)."""
    return subtree_root(0, size, store)


def _largest_power_of_two_below(count: int) -> int:
    """k in RFC 9162 §2.1.1: the largest power of two smaller than ``count`` (count >= 2)."""
    return 1 << ((count - 1).bit_length() - 1)


# ---------------------------------------------------------------------------- proofs


def inclusion_proof(index: int, size: int, store: NodeStore) -> list[bytes]:
    """PATH(index, D[0:size]) of RFC 9162 §2.1.3.1, ordered from the leaf up.

    Walks from the root towards the leaf; each step's sibling is one stored node, except
    possibly one incomplete right subtree on the tree's right edge: O(log n) reads.
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of size {size}")
    siblings: list[bytes] = []
    low, high = 0, size
    while high - low > 1:
        split = low + _largest_power_of_two_below(high - low)
        if index < split:
            siblings.append(subtree_root(split, high, store))
            high = split
        else:
            siblings.append(subtree_root(low, split, store))
            low = split
    siblings.reverse()
    return siblings


def consistency_proof(old_size: int, new_size: int, store: NodeStore) -> list[bytes]:
    """PROOF(old_size, D[0:new_size]) of RFC 9162 §2.1.4.1 (SUBPROOF with b = true).

    RFC 9162 defines it for 0 < old_size < new_size; for old_size == 0 or
    old_size == new_size the proof is empty (``verify_consistency`` accepts those). Reads
    O(log n) stored nodes.
    """
    if not 0 <= old_size <= new_size:
        raise ValueError(f"cannot prove size {old_size} consistent with size {new_size}")
    if old_size in (0, new_size):
        return []
    siblings: list[bytes] = []
    low, high = 0, new_size
    old_tree_is_whole_subtree = True  # the RFC's b: MTH(D[0:old_size]) is already known
    while high != old_size:
        split = low + _largest_power_of_two_below(high - low)
        if old_size <= split:
            siblings.append(subtree_root(split, high, store))
            high = split
        else:
            siblings.append(subtree_root(low, split, store))
            low = split
            old_tree_is_whole_subtree = False
    if not old_tree_is_whole_subtree:
        siblings.append(subtree_root(low, high, store))
    siblings.reverse()
    return siblings


# ---------------------------------------------------------------------------- verifiers


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``proof`` shows leaf ``index`` of a ``size``-leaf tree has root ``root``.

    RFC 9162 §2.1.3.2, step by step. Returns False, never raises, for a malformed proof,
    a hash that is not 32 bytes, or an index or size out of range.
    """
    if not (_is_count(index) and _is_count(size) and index < size):
        return False
    if not (_is_hash(leaf_hash) and _is_hash(root)):
        return False
    path = _hash_list(proof)
    if path is None:
        return False
    fn, sn = index, size - 1
    node = leaf_hash
    for sibling in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            node = node_hash(sibling, node)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            node = node_hash(node, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and node == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether ``proof`` shows the ``old_size`` tree is a prefix of the ``new_size`` tree.

    RFC 9162 §2.1.4.2 for 0 < old_size < new_size. Equal sizes need an empty proof and
    equal roots; old_size 0 needs an empty proof and ``old_root == EMPTY_ROOT`` (stricter
    than the Go reference, which accepts any old root for an empty tree). Returns False,
    never raises, for anything malformed.
    """
    if not (_is_count(old_size) and _is_count(new_size) and old_size <= new_size):
        return False
    if not (_is_hash(old_root) and _is_hash(new_root)):
        return False
    path = _hash_list(proof)
    if path is None:
        return False
    if old_size == new_size:
        return not path and old_root == new_root and (old_size > 0 or old_root == EMPTY_ROOT)
    if old_size == 0:
        return not path and old_root == EMPTY_ROOT
    if not path:
        return False
    if old_size & (old_size - 1) == 0:
        path = [old_root, *path]
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    old_node = new_node = path[0]
    for sibling in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            old_node = node_hash(sibling, old_node)
            new_node = node_hash(sibling, new_node)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            new_node = node_hash(new_node, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and old_node == old_root and new_node == new_root


# ---------------------------------------------------------------------------- validation


def _require_hash(value: object, what: str) -> None:
    if not _is_hash(value):
        raise ValueError(f"{what} must be {HASH_SIZE} bytes")


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes | bytearray) and len(value) == HASH_SIZE


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _hash_list(proof: object) -> list[bytes] | None:
    """The proof as a list of 32-byte hashes, or None when it is anything else."""
    if not isinstance(proof, list | tuple):
        return None
    if not all(_is_hash(element) for element in proof):
        return None
    return [bytes(element) for element in proof]
