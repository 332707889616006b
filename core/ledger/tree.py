"""The Merkle tree as stored: perfect subtrees in ``ledger_node``, read by primary key in a
bounded number of queries, behind ``merkle.NodeStore``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import (
    Select,
    and_,
    bindparam,
    insert,
    or_,
    select,
)
from sqlalchemy.orm import Session

from caratflow.ledger import merkle
from caratflow.ledger.merkle import NodeStore
from caratflow.models import (
    LedgerNode,
)

if TYPE_CHECKING:
    pass


T = TypeVar("T")


class SqlNodeStore:
    """The ``NodeStore`` of the ledger: perfect subtrees in ``ledger_node``.

    ``get`` reads one node; ``prefetch`` reads every node a computation will need in one
    query (see ``with_store``), which is how proofs and appends use it.
    """

    def __init__(self, session: Session) -> None:
        self._session = session
        self._cache: dict[tuple[int, int], bytes] = {}

    def get(self, level: int, index: int) -> bytes:
        key = (level, index)
        node = self._cache.get(key)
        if node is None:
            stored = self._session.scalar(
                select(LedgerNode.hash).where(LedgerNode.level == level, LedgerNode.idx == index)
            )
            if stored is None:
                raise KeyError(key)
            node = self._cache[key] = bytes(stored)
        return node

    def prefetch(self, coordinates: Iterable[tuple[int, int]]) -> None:
        missing = sorted({c for c in coordinates if c not in self._cache})
        for first in range(0, len(missing), _NODES_PER_QUERY):
            chunk = missing[first : first + _NODES_PER_QUERY]
            places = {}
            for n, (level, index) in enumerate(chunk):
                places[f"l{n}"], places[f"i{n}"] = level, index
            for level, index, node in self._session.execute(_nodes_at(len(chunk)), places):
                self._cache[(level, index)] = bytes(node)

    def put_many(self, nodes: Sequence[merkle.Node]) -> None:
        """Write new perfect subtrees (what ``merkle.append_many`` returned) in one
        executemany (Core, not the ORM's unit of work: a third of the time per row)."""
        if nodes:
            self._session.execute(
                insert(LedgerNode.__table__),
                [{"level": level, "idx": index, "hash": node} for level, index, node in nodes],
            )
        for level, index, node in nodes:
            self._cache[(level, index)] = node


_NODES_PER_QUERY = 64
"""Nodes ``prefetch`` reads per query: every proof of a log below 2**32 entries in one."""


@lru_cache(maxsize=_NODES_PER_QUERY)
def _nodes_at(count: int) -> Select[tuple[int, int, bytes]]:
    """The query for ``count`` nodes: ``(level = :l0 AND idx = :i0) OR ...``.

    Each term is a search of the primary key, on SQLite and PostgreSQL alike. Not
    ``(level, idx) IN (VALUES ...)``: SQLite answers that by scanning all of
    ``ledger_node`` (a proof took 379 ms at a million entries), while PostgreSQL plans it
    as these same terms (a BitmapOr of index scans). Built once per count with bound
    parameters, since building the terms costs several times the query itself.
    """
    table = LedgerNode.__table__
    return select(table.c.level, table.c.idx, table.c.hash).where(
        or_(
            *(
                and_(table.c.level == bindparam(f"l{n}"), table.c.idx == bindparam(f"i{n}"))
                for n in range(count)
            )
        )
    )


class _Recorder:
    """A stand-in store that notes which nodes a computation reads (the reads never depend
    on the hashes, only on sizes and indexes)."""

    _DUMMY = bytes(merkle.HASH_SIZE)

    def __init__(self) -> None:
        self.reads: list[tuple[int, int]] = []

    def get(self, level: int, index: int) -> bytes:
        self.reads.append((level, index))
        return self._DUMMY


def with_store(store: SqlNodeStore, compute: Callable[[NodeStore], T]) -> T:
    """Run ``compute`` over the store after fetching all it reads in one query."""
    recorder = _Recorder()
    compute(recorder)
    store.prefetch(recorder.reads)
    return compute(store)
