"""Issue 26, point 5: the demo's people, for every authority of the enabled plugins."""

from __future__ import annotations

from sqlalchemy import select

from caratflow.accounts.demo import ensure_demo_users, new_password
from caratflow.accounts.signin import authenticate
from caratflow.models import Authority, Role


def test_every_authority_gets_two_officers_and_a_supervisor_and_one_admin_for_all(
    session, plugin_host
):
    people = {p.name: p for p in ensure_demo_users(session, plugin_host, new_password())}
    codes = sorted(session.scalars(select(Authority.code)))
    assert codes  # the deployment's: its authorities.toml, else the plugins' defaults
    for code in codes:
        for suffix, role in (("officer-1", Role.OFFICER), ("officer-2", Role.OFFICER)):
            assert people[f"{code.lower()}-{suffix}"].role == role
        assert people[f"{code.lower()}-supervisor"].role == Role.SUPERVISOR
    assert people["demo-admin"].authorities == tuple(codes)
    offered_only = set(plugin_host.authority_profiles()) - set(codes)  # Annex III's others
    assert offered_only and not any(
        p.authorities == (c,) for c in offered_only for p in people.values()
    )


def test_a_belgian_demo_officer_holds_both_bodies_duties_and_a_norwegian_none(session, plugin_host):
    people = {p.name: p for p in ensure_demo_users(session, plugin_host, new_password())}
    assert {"fps_economy", "customs"} <= set(people["be-officer-1"].duties)
    assert people["no-officer-1"].duties == ()  # Norway declares no duty


def test_each_run_gives_a_new_password_and_the_old_one_stops_working(session, plugin_host):
    first, second = new_password(), new_password()
    assert first != second and len(first) >= 12
    ensure_demo_users(session, plugin_host, first)
    assert authenticate(session, "be-officer-1", first) is not None
    ensure_demo_users(session, plugin_host, second)
    assert authenticate(session, "be-officer-1", first) is None
    assert authenticate(session, "be-officer-1", second) is not None
