"""Issue 24: an authority sets itself up from the terminal. ``init`` writes
``authorities.toml`` from the plugins' default profiles and offers the others;
``authorities add/edit`` declare one and apply it; bad input names the option."""

from __future__ import annotations

import tomllib


def declared(tmp_path) -> dict[str, dict]:
    tables = tomllib.loads((tmp_path / "authorities.toml").read_text("utf-8"))["authority"]
    return {t["code"]: t for t in tables}


def test_init_writes_the_default_authorities_and_offers_the_other_profiles(cli, tmp_path):
    said = cli("init").stderr
    assert "authorities created: BE, NO" in said
    assert "also offered: CZ, DE, PT" in said
    assert set(declared(tmp_path)) == {"BE", "NO"}
    offered = cli("authorities", "list", "--offered").stdout
    assert "Hauptzollamt Koblenz" in offered and "NOT verified" in offered


def test_init_starts_from_the_profiles_named(cli, tmp_path):
    assert "authorities created: DE" in cli("init", "--profile", "DE").stderr
    assert set(declared(tmp_path)) == {"DE"}
    refused = cli("init", "--profile", "XX", ok=False)
    assert refused.exit_code == 1 and "authorities add" in refused.stderr


def test_a_german_authority_is_added_from_its_profile_with_its_series_and_listed(cli, tmp_path):
    cli("init")
    cli(
        "authorities",
        "add",
        "DE",
        "--profile",
        "--series",
        "eu.community_certificate=EC:6:500001-599999",
        "--entry-point",
        "FRA",
    )
    german = declared(tmp_path)["DE"]
    assert german["subdivision"] == "RP" and german["entry_points"] == ["FRA"]
    assert german["series"]["eu.community_certificate"]["first"] == 500001
    listed = cli("authorities", "list").stdout
    assert "DE-RP Europe/Berlin" in listed and "EC500001-EC599999" in listed
    cli("authorities", "edit", "DE", "--duty", "zoll:Zollamt Idar-Oberstein:verify")
    assert "duties zoll (its own)" in cli("authorities", "list").stdout
    assert "authorities created: none" in cli("init").stderr  # the file is applied again


def test_a_bad_option_is_refused_naming_the_field_and_nothing_is_written(cli, tmp_path):
    cli("init")
    before = (tmp_path / "authorities.toml").read_text("utf-8")
    refused = cli(
        "authorities",
        "add",
        "XY",
        "--name",
        "Nowhere",
        "--country",
        "DE",
        "--subdivision",
        "ZZ",
        "--zone",
        "Europe/Berlin",
        "--plugin",
        "eu",
        ok=False,
    )
    assert refused.exit_code == 1 and "subdivision:" in refused.stderr
    overlapping = cli(
        "authorities",
        "add",
        "DE",
        "--profile",
        "--series",
        "eu.community_certificate=EC:6:1-10",
        ok=False,
    )
    assert overlapping.exit_code == 1
    cli(
        "authorities",
        "add",
        "CZ",
        "--profile",
        "--series",
        "eu.community_certificate=EC:6:600001-600009",
    )
    clash = cli(
        "authorities",
        "add",
        "PT",
        "--profile",
        "--series",
        "eu.community_certificate=EC:6:600005-600020",
        ok=False,
    )
    assert "overlaps the range of CZ" in clash.stderr
    assert "XY" not in (tmp_path / "authorities.toml").read_text("utf-8")
    assert before != (tmp_path / "authorities.toml").read_text("utf-8")  # CZ went in
