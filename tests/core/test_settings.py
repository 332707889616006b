"""Issue 24, point 3: one settings object. SMTP, the outbox's timing, ``serve``'s
connections, the public URL and the rest are read once, into ``Settings``."""

from __future__ import annotations

from datetime import timedelta

import pytest

from caratflow.config import Settings
from caratflow.scheduler import Worker


def test_the_outbox_and_serve_settings_are_read_once_with_the_rest():
    settings = Settings.from_env(
        {
            "CARATFLOW_SMTP_HOST": "smtp.diamonds.example.be",
            "CARATFLOW_SMTP_PORT": "587",
            "CARATFLOW_SMTP_STARTTLS": "true",
            "CARATFLOW_OUTBOX_LEASE": "60",
            "CARATFLOW_OUTBOX_MAX_ATTEMPTS": "5",
            "CARATFLOW_SERVE_THREADS": "4",
            "CARATFLOW_PUBLIC_URL": "https://kp.example.be/",
        }
    )
    delivery = settings.delivery
    assert (delivery.smtp_host, delivery.smtp_port, delivery.smtp_starttls) == (
        "smtp.diamonds.example.be",
        587,
        True,
    )
    assert (delivery.lease, delivery.max_attempts) == (timedelta(seconds=60), 5)
    assert settings.serve.threads == 4 and settings.public_url == "https://kp.example.be"


@pytest.mark.parametrize(
    "variable, value",
    [("SMTP_PORT", "twenty-five"), ("OUTBOX_LEASE", "-1"), ("SERVE_THREADS", "0")],
)
def test_a_bad_value_is_refused_naming_its_variable(variable, value):
    with pytest.raises(ValueError, match=f"CARATFLOW_{variable}"):
        Settings.from_env({f"CARATFLOW_{variable}": value})


def test_the_worker_delivers_with_the_runtime_s_settings(runtime):
    assert Worker(runtime).delivery is runtime.settings.delivery


def test_the_configuration_is_shown_with_every_secret_hidden():
    shown = Settings.from_env(
        {"CARATFLOW_SECRET_KEY": "s3cret-session-key", "CARATFLOW_SMTP_PASSWORD": "hunter2"}
    ).shown()
    assert shown["secret_key"] == "set (hidden)"
    assert shown["outbox.smtp_password"] == "set (hidden)"
    assert "hunter2" not in str(shown) and "s3cret" not in str(shown)
    assert shown["outbox.retry_cap"] == "3600 s" and shown["plugins"] == "every installed plugin"


def test_the_web_face_s_policy_is_read_with_the_rest_and_governs_the_app(runtime):
    """Issue 24, point 3: sessions, sign-in throttling and the public check's rate limit
    are part of ``Settings`` (shown by ``doctor``), no longer Flask reading the
    environment by itself; a deployment's value is the one the app answers with."""
    from dataclasses import replace

    from caratflow.web import create_app

    env = {"CARATFLOW_VERIFY_CHECKS": "2", "CARATFLOW_SESSION_COOKIE_SECURE": "false"}
    web = Settings.from_env(env).web
    assert (web.verify_checks, web.session_cookie_secure, web.idle_minutes) == (2, False, 15)
    assert Settings.from_env(env).shown()["web.verify_checks"] == "2"

    app = create_app(
        {"TESTING": True}, runtime=replace(runtime, settings=replace(runtime.settings, web=web))
    )
    client = app.test_client()
    answers = [client.get(f"/verify/EC{n:06d}.json").status_code for n in range(1, 5)]
    assert answers == [404, 404, 429, 429]
    assert app.config["SESSION_COOKIE_SECURE"] is False


@pytest.mark.parametrize(
    "variable, value", [("IDLE_MINUTES", "ten"), ("SESSION_COOKIE_SECURE", "maybe")]
)
def test_a_bad_web_setting_is_refused_naming_its_variable(variable, value):
    with pytest.raises(ValueError, match=f"CARATFLOW_{variable}"):
        Settings.from_env({f"CARATFLOW_{variable}": value})
