"""One settings object, read once from the environment (prefix ``CARATFLOW_``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

ENV_PREFIX = "CARATFLOW_"


@dataclass(frozen=True)
class Settings:
    """Where the data lives and which jurisdictions are switched on.

    ``plugins`` is ``None`` to enable every installed plugin, or the names a
    deployment enables (``CARATFLOW_PLUGINS=eu,belgium_g7``).
    """

    instance_path: Path
    database_url: str
    plugins: tuple[str, ...] | None = None
    signing_key_path: Path | None = None
    secret_key: str | None = None
    public_url: str = "http://127.0.0.1:5000"  # issue 5: where documents' QR codes point
    # issue 21: the reverse proxies whose X-Forwarded-For/-Proto are believed (addresses
    # or networks); nobody's by default, so a client cannot choose its own address
    trusted_proxies: tuple[str, ...] = ()
    token_days: int = 90  # issue 21: how long a new API token works

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
            secret_key=read("SECRET_KEY"),
            public_url=(read("PUBLIC_URL") or "http://127.0.0.1:5000").rstrip("/"),
            trusted_proxies=_split_names(read("TRUSTED_PROXIES") or ""),
            token_days=_positive(read("TOKEN_DAYS"), "TOKEN_DAYS", cls.token_days),
        )
        return replace(settings, **overrides) if overrides else settings


def _split_names(value: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in value.split(",") if name.strip())


def _positive(value: str | None, name: str, default: int) -> int:
    if value is None:
        return default
    if not (value.isascii() and value.isdigit() and int(value) > 0):
        raise ValueError(f"{ENV_PREFIX}{name} must be a whole number of days above 0")
    return int(value)
