"""One settings object, read once from the environment (prefix ``CARATFLOW_``)."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import time, timedelta
from pathlib import Path
from typing import Any

ENV_PREFIX = "CARATFLOW_"


@dataclass(frozen=True)
class DeliverySettings:
    """How the outbox reaches its channels and how patiently it retries
    (``CARATFLOW_SMTP_*``, ``CARATFLOW_OUTBOX_*``); part of ``Settings`` (issue 24)."""

    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_from: str = "caratflow@localhost"
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    timeout: float = 30.0
    lease: timedelta = timedelta(minutes=5)
    retry_base: timedelta = timedelta(seconds=30)
    retry_cap: timedelta = timedelta(hours=1)
    max_attempts: int = 12
    batch: int = 10  # claimed at once; a worker that dies has sent at most one unmarked
    late_after: timedelta = timedelta(minutes=5)  # later than this: marked late

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DeliverySettings:
        """Prefer ``Settings.from_env().delivery``: the whole configuration, read once."""
        return Settings.from_env(environ).delivery

    def backoff(self, attempts: int) -> timedelta:
        """Wait before attempt ``attempts + 1``: base, 2×base, 4×base, … up to the cap."""
        return min(self.retry_base * (2 ** max(attempts - 1, 0)), self.retry_cap)


@dataclass(frozen=True)
class ServeSettings:
    """How ``caratflow serve`` (waitress) holds its connections (``CARATFLOW_SERVE_*``).

    A connection counts against ``connection_limit`` from its first byte, long before a
    thread works on it: at waitress's 100, 120 half-open sockets (slowloris) kept every
    officer out (issue 21). The limit is high (``poll``, not ``select``, is needed above
    1024 descriptors) and a silent connection is closed after ``channel_timeout``; the
    reverse proxy a production deployment puts in front bounds slow clients for real.
    """

    threads: int = 8
    connection_limit: int = 1000
    channel_timeout: int = 30  # seconds

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServeSettings:
        """Prefer ``Settings.from_env().serve``: the whole configuration, read once."""
        return Settings.from_env(environ).serve

    def waitress_options(self) -> dict[str, Any]:
        """Keyword arguments of ``waitress.serve``; timeouts are checked as often as they
        could expire."""
        return {
            "threads": self.threads,
            "connection_limit": self.connection_limit,
            "channel_timeout": self.channel_timeout,
            "cleanup_interval": max(1, min(30, self.channel_timeout // 2)),
            "asyncore_use_poll": True,
        }


@dataclass(frozen=True)
class WebSettings:
    """How the web face keeps sessions and turns guessers away, each read from
    ``CARATFLOW_`` + the upper-case name (``CARATFLOW_IDLE_MINUTES=10``); part of
    ``Settings`` so ``doctor`` shows them and a bad value is refused at start (issue 24)."""

    session_cookie_secure: bool = True  # false only for a plain-HTTP trial off localhost
    idle_minutes: int = 15  # ASVS 3.3.2
    session_hours: int = 12
    reauth_minutes: int = 5  # administrative changes ask for the password after that
    login_max_failures: int = 5  # per name, within the window
    login_max_failures_per_address: int = 100  # an office may sign in through one proxy
    login_window_minutes: int = 15
    verify_checks: int = 20  # public checks per address within the window (issue 26)
    verify_window_seconds: int = 60
    max_content_length: int = 2 * 1024 * 1024  # bytes of a request body

    def flask_config(self) -> dict[str, Any]:
        """The values under the names the web face reads from ``app.config``."""
        return {f.name.upper(): getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Settings:
    """The deployment's configuration, read once from the environment (issue 24: the
    outbox's and ``serve``'s settings too): where the data lives, which jurisdictions
    are switched on, how messages go out. ``caratflow doctor`` prints it, secrets hidden.

    ``plugins`` is ``None`` to enable every installed plugin, or the names a
    deployment enables (``CARATFLOW_PLUGINS=eu,belgium_g7``).
    """

    instance_path: Path
    database_url: str
    plugins: tuple[str, ...] | None = None
    signing_key_path: Path | None = None
    leaf_keys_path: Path | None = None  # issue 25: the HMAC keys that authenticate each leaf
    secret_key: str | None = None
    public_url: str = "http://127.0.0.1:5000"  # issue 5: where documents' QR codes point
    # issue 21: the reverse proxies whose X-Forwarded-For/-Proto are believed (addresses
    # or networks); nobody's by default, so a client cannot choose its own address
    trusted_proxies: tuple[str, ...] = ()
    token_days: int = 90  # issue 21: how long a new API token works
    # issue 27: a replica that reports, lists and the public check read from, if any
    read_database_url: str | None = None
    # issue 26: the time of day, in the zone of an officer's authority, that the e-mail
    # digest of "My work" is offered at when the officer opts in (each may choose another)
    digest_at: time = time(7, 30)
    delivery: DeliverySettings = field(default_factory=DeliverySettings)  # SMTP, outbox
    serve: ServeSettings = field(default_factory=ServeSettings)  # waitress
    web: WebSettings = field(default_factory=WebSettings)  # sessions, sign-in throttling

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if environ is None else environ

        def read(name: str) -> str | None:
            value = env.get(ENV_PREFIX + name, "").strip()
            return value or None

        instance = Path(read("INSTANCE_PATH") or Path.cwd() / "instance").resolve()
        plugins = read("PLUGINS")
        settings = cls(
            instance_path=instance,
            database_url=read("DATABASE_URL") or f"sqlite:///{instance / 'caratflow.sqlite3'}",
            plugins=_split_names(plugins) if plugins is not None else None,
            signing_key_path=Path(read("SIGNING_KEY") or instance / "ledger-ed25519.pem"),
            leaf_keys_path=Path(read("LEAF_KEYS") or instance / "ledger-leaf.keys"),
            secret_key=read("SECRET_KEY"),
            public_url=(read("PUBLIC_URL") or "http://127.0.0.1:5000").rstrip("/"),
            trusted_proxies=_split_names(read("TRUSTED_PROXIES") or ""),
            token_days=_positive(read("TOKEN_DAYS"), "TOKEN_DAYS", cls.token_days),
            read_database_url=read("READ_DATABASE_URL"),
            digest_at=_time_of_day(read("DIGEST_AT"), "DIGEST_AT", cls.digest_at),
            delivery=_delivery(read),
            serve=_serve(read),
            web=_web(read),
        )
        return replace(settings, **overrides) if overrides else settings

    def shown(self) -> dict[str, str]:
        """The effective configuration as ``doctor`` prints it: every value, each secret
        only as set or not."""
        secret = {"secret_key", "smtp_password"}
        shown: dict[str, str] = {}
        for name, value in [
            *((f.name, getattr(self, f.name)) for f in fields(self)),
            *((f"outbox.{f.name}", getattr(self.delivery, f.name)) for f in fields(self.delivery)),
            *((f"serve.{f.name}", getattr(self.serve, f.name)) for f in fields(self.serve)),
            *((f"web.{f.name}", getattr(self.web, f.name)) for f in fields(self.web)),
        ]:
            if name in ("delivery", "serve", "web"):
                continue
            if name.rpartition(".")[2] in secret:
                shown[name] = "set (hidden)" if value else "not set"
            elif isinstance(value, timedelta):
                shown[name] = f"{value.total_seconds():g} s"
            elif value is None:
                shown[name] = "-"
            elif isinstance(value, tuple):
                shown[name] = ",".join(value) or "-"
            else:
                shown[name] = str(value)
        if self.plugins is None:
            shown["plugins"] = "every installed plugin"
        return shown


Reader = Callable[[str], "str | None"]


def _delivery(read: Reader) -> DeliverySettings:
    defaults = DeliverySettings()

    def seconds(name: str, default: timedelta) -> timedelta:
        raw = read(name)
        return default if raw is None else timedelta(seconds=_number(raw, name, float))

    return DeliverySettings(
        smtp_host=read("SMTP_HOST") or defaults.smtp_host,
        smtp_port=_whole(read("SMTP_PORT"), "SMTP_PORT", defaults.smtp_port),
        smtp_from=read("SMTP_FROM") or defaults.smtp_from,
        smtp_user=read("SMTP_USER"),
        smtp_password=read("SMTP_PASSWORD"),
        smtp_starttls=(read("SMTP_STARTTLS") or "").lower() in ("1", "true", "yes"),
        lease=seconds("OUTBOX_LEASE", defaults.lease),
        retry_base=seconds("OUTBOX_RETRY_BASE", defaults.retry_base),
        retry_cap=seconds("OUTBOX_RETRY_CAP", defaults.retry_cap),
        max_attempts=_whole(read("OUTBOX_MAX_ATTEMPTS"), "OUTBOX_MAX_ATTEMPTS", 12),
    )


def _serve(read: Reader) -> ServeSettings:
    defaults = ServeSettings()
    return ServeSettings(
        threads=_whole(read("SERVE_THREADS"), "SERVE_THREADS", defaults.threads),
        connection_limit=_whole(
            read("SERVE_CONNECTION_LIMIT"), "SERVE_CONNECTION_LIMIT", defaults.connection_limit
        ),
        channel_timeout=_whole(
            read("SERVE_CHANNEL_TIMEOUT"), "SERVE_CHANNEL_TIMEOUT", defaults.channel_timeout
        ),
    )


def _web(read: Reader) -> WebSettings:
    values: dict[str, Any] = {}
    for setting in fields(WebSettings):
        name, default = setting.name.upper(), setting.default
        if isinstance(default, bool):
            values[setting.name] = _yes_or_no(read(name), name, default)
        else:
            values[setting.name] = _whole(read(name), name, default)  # type: ignore[arg-type]
    return WebSettings(**values)


def _yes_or_no(raw: str | None, name: str, default: bool) -> bool:
    if raw is None:
        return default
    answer = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
    if raw.lower() not in answer:
        raise ValueError(f"{ENV_PREFIX}{name} must be true or false, not {raw!r}")
    return answer[raw.lower()]


def _number(raw: str, name: str, kind: Callable[[str], Any]) -> Any:
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or not value > 0:
        raise ValueError(f"{ENV_PREFIX}{name} must be a number above 0, not {raw!r}")
    return value


def _whole(raw: str | None, name: str, default: int) -> int:
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()):
        raise ValueError(f"{ENV_PREFIX}{name} must be a whole number above 0, not {raw!r}")
    return int(_number(raw, name, int))


def _time_of_day(raw: str | None, name: str, default: time) -> time:
    if raw is None:
        return default
    try:
        return time.fromisoformat(raw)
    except ValueError:
        message = f"{ENV_PREFIX}{name} must be a time of day such as 07:30, not {raw!r}"
        raise ValueError(message) from None


def _split_names(value: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in value.split(",") if name.strip())


PERSONAL_NUMBERS = re.compile(
    r"(?<![\d.-])(?:\d{11}|\d{6}[ -]\d{5}|\d{2}\.\d{2}\.\d{2}-\d{3}\.\d{2})(?![\d.-]|\.\d)"
)
"""Personal numbers as a log line may carry them: Norwegian birth and D-numbers (11
digits, FOR-2004-02-24-470 §7 registers them; with or without a space after the date)
and Belgian national register numbers (11 digits, or ``YY.MM.DD-NNN.CC``)."""
_HIDDEN = "[personal number]"


def scrub_logs() -> None:
    """Make every log record of the process free of personal numbers, whichever logger
    and handler it goes to: its message and arguments, and its traceback (formatted once
    here, then only the scrubbed text is kept). Safe to call again (issue 21)."""
    make_record = logging.getLogRecordFactory()
    if getattr(make_record, "scrubs", False):
        return

    def scrubbed_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        message = record.getMessage()
        clean = PERSONAL_NUMBERS.sub(_HIDDEN, message)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text, record.exc_info = PERSONAL_NUMBERS.sub(_HIDDEN, text), None
        return record

    scrubbed_record.scrubs = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(scrubbed_record)


def _positive(value: str | None, name: str, default: int) -> int:
    if value is None:
        return default
    if not (value.isascii() and value.isdigit() and int(value) > 0):
        raise ValueError(f"{ENV_PREFIX}{name} must be a whole number of days above 0")
    return int(value)
