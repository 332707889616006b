"""Issue 23 point 3: the demo speaks the language of its authority. A Norwegian officer's
reasons are written in Norwegian, Antwerp's in Dutch, as their officers would type them."""

from __future__ import annotations

import re

ENGLISH = {"the", "through", "found", "with", "allows", "only", "at", "on", "share", "entered"}
"""Words that mark an English sentence and appear in none of the demo's languages."""


def test_every_reason_the_demo_records_is_in_its_authority_s_language(plugin_host):
    reasons = [
        (payload["authority"], step["reason"])
        for payload in plugin_host.demo_payloads()
        for step in payload.get("demo_actions", ())
        if step.get("reason")
    ]
    assert {authority for authority, _ in reasons} >= {"BE", "NO"}
    for authority, reason in reasons:
        words = set(re.findall(r"[a-z]+", reason.lower()))
        assert not words & ENGLISH, f"{authority}: {reason!r} reads as English"
