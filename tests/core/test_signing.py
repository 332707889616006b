"""Canonical JSON is byte-exact, and signed tree heads and detached signatures hold up."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import random
import stat
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from caratflow.ledger.signing import (
    TREE_HEAD_CONTEXT,
    SignedTreeHead,
    canonical_json,
    generate_key,
    key_id,
    load_private_key,
    load_public_key,
    public_key_pem,
    sign_detached,
    sign_tree_head,
    verify_detached,
    verify_tree_head,
)

# RFC 8032 §7.1, TEST 1: secret key, public key, and the signature of the empty message.
RFC8032_SECRET = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
RFC8032_EMPTY_SIGNATURE = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)

ROOT = hashlib.sha256(b"some root").digest()
MOMENT = datetime(2024, 3, 1, 12, 30, 5, 250000, tzinfo=UTC)


@pytest.fixture
def rfc_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(RFC8032_SECRET)


@pytest.fixture
def signed_head(rfc_key: Ed25519PrivateKey) -> SignedTreeHead:
    return sign_tree_head(rfc_key, 42, ROOT, MOMENT)


# ---------------------------------------------------------------------------- canonical JSON


def test_object_keys_are_sorted_by_utf16_code_units_as_in_rfc_8785() -> None:
    """RFC 8785 §3.2.3's example: the emoji (surrogates D83D DE00) sorts before U+FB33."""
    document = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    expected = (
        '{"\\r":"Carriage Return","1":"One","\u0080":"Control",'
        '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",'
        '"\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}'
    )
    assert canonical_json(document) == expected.encode("utf-8")


def test_nested_values_have_no_whitespace_and_sorted_keys() -> None:
    document = {"b": [1, True, None, {"z": False, "a": "x"}], "a": -7, "": ()}
    assert canonical_json(document) == b'{"":[],"a":-7,"b":[1,true,null,{"a":"x","z":false}]}'


def test_strings_are_escaped_as_json_stringify_does() -> None:
    text = 'quote" backslash\\ \b\f\n\r\t \x00 \x0f \x1f \x7f é €'
    expected = '"quote\\" backslash\\\\ \\b\\f\\n\\r\\t \\u0000 \\u000f \\u001f \x7f é €"'
    assert canonical_json(text) == expected.encode("utf-8")


def test_our_extension_types_become_strings() -> None:
    document = {
        "amount": Decimal("1234.50"),
        "tiny": Decimal("1E-7"),
        "at": datetime(2024, 2, 29, 23, 0, tzinfo=timezone(timedelta(hours=-2))),
        "precise": datetime(2024, 1, 1, 0, 0, 0, 5, tzinfo=UTC),
        "on": date(2024, 2, 29),
    }
    assert canonical_json(document) == (
        b'{"amount":"1234.50","at":"2024-03-01T01:00:00Z","on":"2024-02-29",'
        b'"precise":"2024-01-01T00:00:00.000005Z","tiny":"1E-7"}'
    )


@pytest.mark.parametrize(
    "value", [1.5, 0.0, float("nan"), float("inf"), {"a": [1.0]}, [{"x": 2e3}]]
)
def test_floats_are_refused_wherever_they_are(value: object) -> None:
    with pytest.raises(TypeError, match="float"):
        canonical_json(value)


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ({1: "a"}, TypeError),
        ({("a",): "a"}, TypeError),
        ({"a"}, TypeError),
        (b"bytes", TypeError),
        (object(), TypeError),
        (2**53, ValueError),
        (-(2**53), ValueError),
        (Decimal("NaN"), ValueError),
        (Decimal("Infinity"), ValueError),
        (datetime(2024, 1, 1), ValueError),  # naive: which zone?
        ("\ud800", ValueError),  # a lone surrogate has no UTF-8 form
    ],
)
def test_values_without_one_canonical_form_are_refused(value: object, error: type) -> None:
    with pytest.raises(error):
        canonical_json(value)


def test_largest_safe_integers_are_kept() -> None:
    assert canonical_json([2**53 - 1, -(2**53 - 1), 0]) == b"[9007199254740991,-9007199254740991,0]"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200)
@given(value=json_values)
def test_canonical_json_is_valid_json_of_the_same_value(value: object) -> None:
    encoded = canonical_json(value)
    assert json.loads(encoded.decode("utf-8")) == value
    assert b"\n" not in encoded
    assert canonical_json(json.loads(encoded)) == encoded  # a fixed point


@settings(max_examples=100)
@given(
    items=st.dictionaries(st.text(), st.integers(0, 9), min_size=2, max_size=8),
    randomness=st.randoms(),
)
def test_key_order_of_the_input_does_not_matter(
    items: dict[str, int], randomness: random.Random
) -> None:
    keys = list(items)
    randomness.shuffle(keys)
    shuffled = {key: items[key] for key in keys}
    assert canonical_json(shuffled) == canonical_json(items)


# ---------------------------------------------------------------------------- keys


def test_generated_key_file_is_private_and_loads_back(tmp_path: Path) -> None:
    path = tmp_path / "log.pem"
    private_key = generate_key(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    loaded = load_private_key(path)
    assert key_id(loaded.public_key()) == key_id(private_key.public_key())


def test_an_existing_key_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "log.pem"
    generate_key(path)
    before = path.read_bytes()
    with pytest.raises(FileExistsError):
        generate_key(path)
    assert path.read_bytes() == before


def test_a_symlink_is_not_followed_when_generating(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.pem"
    link = tmp_path / "log.pem"
    link.symlink_to(target)
    with pytest.raises(FileExistsError):
        generate_key(link)
    assert not target.exists()


def test_a_key_of_another_algorithm_is_refused(tmp_path: Path) -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "ec.pem"
    path.write_bytes(
        ec_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(TypeError, match="not Ed25519"):
        load_private_key(path)
    ec_public_pem = ec_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(TypeError, match="Ed25519"):
        load_public_key(ec_public_pem.decode("ascii"))


def test_public_key_pem_round_trips_and_key_id_names_the_raw_key(
    rfc_key: Ed25519PrivateKey,
) -> None:
    pem = public_key_pem(rfc_key)
    assert pem.startswith("-----BEGIN PUBLIC KEY-----\n")
    public_key = load_public_key(pem)
    assert (
        public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        == RFC8032_PUBLIC
    )
    assert key_id(public_key) == hashlib.sha256(RFC8032_PUBLIC).hexdigest()[:16]
    assert len(key_id(public_key)) == 16


# ---------------------------------------------------------------------------- tree heads


def test_a_signed_tree_head_verifies_and_round_trips_through_a_dict(
    rfc_key: Ed25519PrivateKey, signed_head: SignedTreeHead
) -> None:
    public_key = rfc_key.public_key()
    assert verify_tree_head(public_key, signed_head)
    as_dict = signed_head.to_dict()
    assert as_dict == {
        "tree_size": 42,
        "root_hash": ROOT.hex(),
        "timestamp": "2024-03-01T12:30:05.250000Z",
        "key_id": key_id(public_key),
        "signature": signed_head.signature,
    }
    parsed = SignedTreeHead.from_dict(json.loads(json.dumps(as_dict)))
    assert parsed == signed_head
    assert verify_tree_head(public_key, parsed)


def test_the_signature_covers_the_context_and_the_canonical_json(
    rfc_key: Ed25519PrivateKey, signed_head: SignedTreeHead
) -> None:
    expected_message = TREE_HEAD_CONTEXT + (
        f'{{"key_id":"{key_id(rfc_key.public_key())}","root_hash":"{ROOT.hex()}",'
        '"timestamp":"2024-03-01T12:30:05.250000Z","tree_size":42}'
    ).encode("ascii")
    assert signed_head.signed_message() == expected_message
    signature = base64.b64decode(signed_head.signature)
    rfc_key.public_key().verify(signature, expected_message)  # raises if not


def test_a_timestamp_in_another_zone_is_stored_in_utc(rfc_key: Ed25519PrivateKey) -> None:
    oslo = timezone(timedelta(hours=1))
    head = sign_tree_head(rfc_key, 1, ROOT, datetime(2024, 3, 1, 13, 30, 5, 250000, tzinfo=oslo))
    assert head.timestamp == MOMENT
    assert head.timestamp.utcoffset() == timedelta(0)
    assert verify_tree_head(rfc_key.public_key(), head)


@pytest.mark.parametrize(
    "changes",
    [
        {"tree_size": 43},
        {"tree_size": 41},
        {"root_hash": hashlib.sha256(b"another root").hexdigest()},
        {"timestamp": MOMENT + timedelta(microseconds=1)},
        {"key_id": "0000000000000000"},
        {"signature": base64.b64encode(bytes(64)).decode("ascii")},
    ],
)
def test_a_tampered_tree_head_fails(
    rfc_key: Ed25519PrivateKey, signed_head: SignedTreeHead, changes: dict[str, object]
) -> None:
    tampered = dataclasses.replace(signed_head, **changes)  # type: ignore[arg-type]
    assert verify_tree_head(rfc_key.public_key(), tampered) is False


@pytest.mark.parametrize("position", [0, 10, 31, 63])
def test_a_flipped_signature_bit_fails(
    rfc_key: Ed25519PrivateKey, signed_head: SignedTreeHead, position: int
) -> None:
    raw = bytearray(base64.b64decode(signed_head.signature))
    raw[position] ^= 0x01
    tampered = dataclasses.replace(signed_head, signature=base64.b64encode(raw).decode("ascii"))
    assert verify_tree_head(rfc_key.public_key(), tampered) is False


def test_another_key_does_not_verify(signed_head: SignedTreeHead) -> None:
    assert verify_tree_head(Ed25519PrivateKey.generate().public_key(), signed_head) is False


def test_another_key_with_a_forged_key_id_does_not_verify(signed_head: SignedTreeHead) -> None:
    impostor = Ed25519PrivateKey.generate().public_key()
    relabelled = dataclasses.replace(signed_head, key_id=key_id(impostor))
    assert verify_tree_head(impostor, relabelled) is False


@pytest.mark.parametrize(
    "changes",
    [
        {"signature": "not base64!"},
        {"signature": ""},
        {"signature": base64.b64encode(bytes(63)).decode("ascii")},
        {"root_hash": "zz"},
        {"root_hash": ROOT.hex().upper()},
        {"tree_size": -1},
        {"tree_size": "42"},
        {"timestamp": datetime(2024, 3, 1, 12, 30, 5)},
        {"timestamp": "2024-03-01T12:30:05Z"},
    ],
)
def test_a_malformed_tree_head_returns_false(
    rfc_key: Ed25519PrivateKey, signed_head: SignedTreeHead, changes: dict[str, object]
) -> None:
    malformed = dataclasses.replace(signed_head, **changes)  # type: ignore[arg-type]
    assert verify_tree_head(rfc_key.public_key(), malformed) is False


def test_a_signature_in_non_canonical_base64_is_refused(
    rfc_key: Ed25519PrivateKey, signed_head: SignedTreeHead
) -> None:
    assert signed_head.signature.endswith("==")
    # the last data character carries 2 significant bits; changing the 4 unused ones
    # decodes to the same 64 bytes, and must still not be accepted as another spelling
    last = signed_head.signature[-3]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    variant = alphabet[alphabet.index(last) ^ 0x01]
    respelled = signed_head.signature[:-3] + variant + "=="
    assert base64.b64decode(respelled) == base64.b64decode(signed_head.signature)
    tampered = dataclasses.replace(signed_head, signature=respelled)
    assert verify_tree_head(rfc_key.public_key(), tampered) is False


@pytest.mark.parametrize(
    "changes",
    [
        {"tree_size": True},
        {"tree_size": -1},
        {"root_hash": "ab"},
        {"timestamp": "2024-03-01T12:30:05+00:00"},
        {"timestamp": 1709296205},
        {"key_id": "short"},
        {"signature": None},
        {"extra": "field"},
    ],
)
def test_from_dict_refuses_malformed_input(
    signed_head: SignedTreeHead, changes: dict[str, object]
) -> None:
    with pytest.raises(ValueError):
        SignedTreeHead.from_dict({**signed_head.to_dict(), **changes})


def test_from_dict_refuses_a_missing_field(signed_head: SignedTreeHead) -> None:
    data = signed_head.to_dict()
    del data["signature"]
    with pytest.raises(ValueError):
        SignedTreeHead.from_dict(data)


def test_sign_tree_head_refuses_bad_input(rfc_key: Ed25519PrivateKey) -> None:
    with pytest.raises(ValueError):
        sign_tree_head(rfc_key, 1, ROOT, datetime(2024, 1, 1))
    with pytest.raises(ValueError):
        sign_tree_head(rfc_key, 1, ROOT[:31], MOMENT)
    with pytest.raises(ValueError):
        sign_tree_head(rfc_key, -1, ROOT, MOMENT)


# ---------------------------------------------------------------------------- detached


def test_detached_signature_matches_rfc_8032_test_1(rfc_key: Ed25519PrivateKey) -> None:
    signature = sign_detached(rfc_key, b"")
    assert base64.b64decode(signature) == RFC8032_EMPTY_SIGNATURE
    assert verify_detached(rfc_key.public_key(), b"", signature)


@settings(max_examples=50)
@given(data=st.binary(max_size=512), bit=st.integers(0, 511))
def test_detached_signatures_round_trip_and_a_flipped_bit_fails(data: bytes, bit: int) -> None:
    assume(not data.startswith(TREE_HEAD_CONTEXT))  # refused; tested below
    private_key = Ed25519PrivateKey.from_private_bytes(RFC8032_SECRET)
    public_key = private_key.public_key()
    signature = sign_detached(private_key, data)
    assert verify_detached(public_key, data, signature)
    raw = bytearray(base64.b64decode(signature))
    raw[bit // 8] ^= 1 << (bit % 8)
    assert not verify_detached(public_key, data, base64.b64encode(raw).decode("ascii"))
    assert not verify_detached(public_key, data + b"!", signature)


def test_detached_signature_fails_for_another_key(rfc_key: Ed25519PrivateKey) -> None:
    signature = sign_detached(rfc_key, b"certificate")
    assert not verify_detached(Ed25519PrivateKey.generate().public_key(), b"certificate", signature)


@pytest.mark.parametrize(
    ("data", "signature"),
    [
        (b"x", "***"),
        (b"x", ""),
        (b"x", None),
        (b"x", b"bytes, not str"),
        (b"x", base64.b64encode(bytes(64)).decode("ascii")),
        (b"x", base64.b64encode(bytes(65)).decode("ascii")),
        (b"x", " " + base64.b64encode(bytes(64)).decode("ascii")),
        ("text, not bytes", base64.b64encode(bytes(64)).decode("ascii")),
        (7, base64.b64encode(bytes(64)).decode("ascii")),
        (None, base64.b64encode(bytes(64)).decode("ascii")),
    ],
)
def test_verify_detached_returns_false_instead_of_raising(
    rfc_key: Ed25519PrivateKey, data: object, signature: object
) -> None:
    assert verify_detached(rfc_key.public_key(), data, signature) is False  # type: ignore[arg-type]


def test_detached_signing_cannot_be_used_to_forge_a_tree_head(
    rfc_key: Ed25519PrivateKey, signed_head: SignedTreeHead
) -> None:
    with pytest.raises(ValueError, match="tree head"):
        sign_detached(rfc_key, signed_head.signed_message())
    assert not verify_detached(
        rfc_key.public_key(), signed_head.signed_message(), signed_head.signature
    )


def test_detached_signing_refuses_non_bytes(rfc_key: Ed25519PrivateKey) -> None:
    with pytest.raises(TypeError):
        sign_detached(rfc_key, 5)  # type: ignore[arg-type]  # bytes(5) would be 5 zero bytes


def test_a_head_signed_by_the_key_but_naming_another_key_fails(
    rfc_key: Ed25519PrivateKey, signed_head: SignedTreeHead
) -> None:
    misnamed = dataclasses.replace(signed_head, key_id="0000000000000000")
    signature = rfc_key.sign(misnamed.signed_message())  # a valid signature over a wrong name
    misnamed = dataclasses.replace(misnamed, signature=base64.b64encode(signature).decode("ascii"))
    assert verify_tree_head(rfc_key.public_key(), misnamed) is False
