"""Norwegian identifiers a registration must carry (§7): organisation and birth numbers."""

from __future__ import annotations

ORGANISATION_WEIGHTS = (3, 2, 7, 6, 5, 4, 3, 2)
BIRTH_NUMBER_WEIGHTS = ((3, 7, 6, 1, 8, 9, 4, 5, 2), (5, 4, 3, 2, 7, 6, 5, 4, 3, 2))


def mod11_check_digit(digits: str, weights: tuple[int, ...]) -> int | None:
    """The MOD11 check digit of ``digits``, or ``None`` where none exists (remainder 1)."""
    remainder = sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11
    check = (11 - remainder) % 11
    return None if check == 10 else check


def valid_organisation_number(number: str) -> bool:
    """Nine digits, the last a MOD11 check digit (Brønnøysundregistrene)."""
    if len(number) != 9 or not number.isdigit():
        return False
    return mod11_check_digit(number[:8], ORGANISATION_WEIGHTS) == int(number[8])


def valid_birth_number(number: str) -> bool:
    """Eleven digits (fødselsnummer or D-number) with both MOD11 check digits right."""
    if len(number) != 11 or not number.isdigit():
        return False
    first, second = BIRTH_NUMBER_WEIGHTS
    return mod11_check_digit(number[:9], first) == int(number[9]) and mod11_check_digit(
        number[:10], second
    ) == int(number[10])
