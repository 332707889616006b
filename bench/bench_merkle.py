"""How proof cost grows with the ledger: it must follow log n, not n.

Builds in-memory trees of 1,000 and 1,000,000 leaves with batch appends (as the sequencer
does), then times inclusion and consistency proofs at random positions. If proofs read
O(log n) nodes, the 1M / 1k time ratio sits near log(1e6) / log(1e3) = 2, not 1000. Also
reports the leaf hashing rate on record-sized payloads.

Run: /tmp/venv/bin/python bench/bench_merkle.py [--samples N]
"""

from __future__ import annotations

import argparse
import gc
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from caratflow.ledger.merkle import (
    MemoryNodeStore,
    append_many,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

SIZES = (1_000, 1_000_000)
BATCH = 10_000
PAYLOAD_BYTES = 300
"""About one canonical-JSON ledger record."""


@dataclass
class Measurement:
    size: int
    build_seconds: float
    inclusion_us: float
    consistency_us: float
    reads_per_pair: float
    verify_us: float

    @property
    def proof_pair_us(self) -> float:
        return self.inclusion_us + self.consistency_us


class CountingStore:
    def __init__(self, store: MemoryNodeStore) -> None:
        self.store = store
        self.reads = 0

    def get(self, level: int, index: int) -> bytes:
        self.reads += 1
        return self.store.get(level, index)


def entry_leaf(number: int) -> bytes:
    return leaf_hash(b"ledger entry %d" % number)


def build(size: int) -> tuple[MemoryNodeStore, float]:
    store = MemoryNodeStore()
    started = time.perf_counter()
    for start in range(0, size, BATCH):
        leaves = [entry_leaf(number) for number in range(start, min(start + BATCH, size))]
        store.put_many(append_many(start, leaves, store))
    return store, time.perf_counter() - started


def best_mean_us(action: Callable[[], object], samples: int, rounds: int) -> float:
    """Mean µs per sample of the fastest round: other processes only ever add time."""
    best = math.inf
    gc.disable()  # as timeit does: collections would land on whichever proof triggers them
    try:
        for _ in range(rounds):
            started = time.perf_counter()
            action()
            best = min(best, time.perf_counter() - started)
    finally:
        gc.enable()
    return best / samples * 1e6


def measure(size: int, samples: int, rounds: int, rng: random.Random) -> Measurement:
    store, build_seconds = build(size)
    indexes = [rng.randrange(size) for _ in range(samples)]
    old_sizes = [rng.randrange(1, size + 1) for _ in range(samples)]

    def prove_inclusion() -> None:
        for index in indexes:
            inclusion_proof(index, size, store)

    def prove_consistency() -> None:
        for old in old_sizes:
            consistency_proof(old, size, store)

    inclusion_us = best_mean_us(prove_inclusion, samples, rounds)
    consistency_us = best_mean_us(prove_consistency, samples, rounds)

    counting = CountingStore(store)
    for index, old in zip(indexes, old_sizes, strict=True):
        inclusion_proof(index, size, counting)
        consistency_proof(old, size, counting)

    tree_root = root(size, store)
    leaves = [entry_leaf(index) for index in indexes]
    inclusion_proofs = [inclusion_proof(index, size, store) for index in indexes]
    old_roots = [root(old, store) for old in old_sizes]
    consistency_proofs = [consistency_proof(old, size, store) for old in old_sizes]

    def verify_both() -> None:
        for leaf, index, proof in zip(leaves, indexes, inclusion_proofs, strict=True):
            assert verify_inclusion(leaf, index, size, proof, tree_root)
        for old, old_root, proof in zip(old_sizes, old_roots, consistency_proofs, strict=True):
            assert verify_consistency(old, size, old_root, tree_root, proof)

    return Measurement(
        size=size,
        build_seconds=build_seconds,
        inclusion_us=inclusion_us,
        consistency_us=consistency_us,
        reads_per_pair=counting.reads / samples,
        verify_us=best_mean_us(verify_both, samples, rounds),
    )


def leaf_hash_rate(count: int) -> float:
    """Leaf hashes per second over record-sized payloads (payloads built beforehand)."""
    payloads = [(b"%08d" % number) * (PAYLOAD_BYTES // 8) for number in range(count)]
    started = time.perf_counter()
    for payload in payloads:
        leaf_hash(payload)
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20_000, help="proofs timed per size")
    parser.add_argument("--rounds", type=int, default=5, help="timing rounds; the best counts")
    arguments = parser.parse_args()
    rng = random.Random(9162)

    results = [measure(size, arguments.samples, arguments.rounds, rng) for size in SIZES]

    print(
        f"{arguments.samples:,} random inclusion + consistency proofs per size, "
        f"MemoryNodeStore, best of {arguments.rounds} rounds; pair = one of each"
    )
    header = (
        f"{'leaves':>10} {'build s':>8} {'incl µs':>8} {'cons µs':>8} "
        f"{'pair µs':>8} {'reads/pair':>10} {'verify µs':>9}"
    )
    print(header)
    print("-" * len(header))
    for result in results:
        print(
            f"{result.size:>10,} {result.build_seconds:>8.2f} {result.inclusion_us:>8.1f} "
            f"{result.consistency_us:>8.1f} {result.proof_pair_us:>8.1f} "
            f"{result.reads_per_pair:>10.1f} {result.verify_us:>9.1f}"
        )
    small, large = results[0], results[-1]
    expected = math.log(large.size) / math.log(small.size)
    time_ratio = large.proof_pair_us / small.proof_pair_us
    reads_ratio = large.reads_per_pair / small.reads_per_pair
    print(
        f"ratio {large.size:,} / {small.size:,}: proof time x{time_ratio:.2f}, "
        f"store reads x{reads_ratio:.2f} (log ratio {expected:.2f}; "
        f"linear would be x{large.size / small.size:,.0f})"
    )
    print("  (store reads are exact; times vary with machine load and cache size)")
    rate = leaf_hash_rate(1_000_000)
    print(f"leaf hashing: {rate:,.0f} leaves/s ({1e6 / rate:.2f} µs per {PAYLOAD_BYTES}-byte leaf)")
    print(f"append (incl. leaf hashing): {large.size / large.build_seconds:,.0f} leaves/s")


if __name__ == "__main__":
    main()
