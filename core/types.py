"""Column types that keep the engine's promises on every database.

SQLite has no exact decimal and no time zones: its NUMERIC is a float and its
DATETIME forgets the offset. Carats and money must stay exact, and instants must come
back as UTC, so both are adapted here once instead of at every use.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, Numeric
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


class ExactDecimal(TypeDecorator[Decimal]):
    """``NUMERIC(precision, scale)`` on PostgreSQL; a scaled integer on SQLite.

    The scaled integer keeps sums, ordering and comparisons exact in SQL. A value with
    more decimal places than ``scale`` is refused rather than silently rounded.
    """

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int, scale: int):
        super().__init__()
        self.precision = precision
        self.scale = scale

    def __repr__(self) -> str:  # Alembic renders migrations from this
        return f"{type(self).__name__}({self.precision}, {self.scale})"

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = Decimal(value)
        if value.as_tuple().exponent < -self.scale:  # type: ignore[operator]
            raise ValueError(f"{value} has more than {self.scale} decimal places")
        if dialect.name == "sqlite":
            return int(value.scaleb(self.scale))
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        exact = (
            Decimal(int(value)).scaleb(-self.scale) if dialect.name == "sqlite" else Decimal(value)
        )
        return _trimmed(exact)


def _trimmed(value: Decimal) -> Decimal:
    """Without the zeros the column's scale padded on, but with two places: 123.4500 reads
    back as 123.45, 1250.4000 as 1250.40, as people write carats and money."""
    exponent = value.normalize().as_tuple().exponent
    return value.quantize(Decimal(1).scaleb(min(exponent, -2)))  # type: ignore[type-var]


class UTCDateTime(TypeDecorator[datetime]):
    """An instant: aware on the way in (naive is a bug), UTC on the way out."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: instants must carry a time zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def Carats() -> ExactDecimal:
    return ExactDecimal(16, 4)


def Money() -> ExactDecimal:
    return ExactDecimal(18, 2)


def jsonable(value: Any) -> Any:
    """A copy safe for a JSON column: exact decimals and dates become strings."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):  # datetimes too
        return value.isoformat()
    return value
