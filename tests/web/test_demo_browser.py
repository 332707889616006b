"""Issue 26, point 5: the way in. ``caratflow serve --demo`` prints who to sign in as and
a password it generated; a new user signs in with exactly what the console showed, and
the administrator enrols an authenticator by scanning the QR code on the page.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from PIL import Image

from caratflow.testing.databases import temporary_database
from caratflow.testing.servers import free_port

zxingcpp = pytest.importorskip("zxingcpp")

SIGN_IN = re.compile(r"sign in at (?P<url>http://\S+/login) as any of these, password (?P<pw>\S+)")


class Console:
    """What ``serve --demo`` prints, read line by line as it comes."""

    def __init__(self, process: subprocess.Popen[str]):
        self.process = process
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while not any(text in line for line in self.lines):
            assert self.process.poll() is None, "\n".join(self.lines)
            assert time.monotonic() < deadline, "\n".join(self.lines)
            time.sleep(0.2)


@pytest.fixture
def demo_database(backend, tmp_path) -> Iterator[str]:
    """A database of its own: the demo commits its shipments and people, which the shared
    test database must not keep (the directory's pages counted its undeliverable notices)."""
    with temporary_database(backend, tmp_path) as url:
        yield url


@pytest.fixture
def demo(demo_database, tmp_path) -> Iterator[Console]:
    env = {
        **os.environ,
        "CARATFLOW_INSTANCE_PATH": str(tmp_path),
        "CARATFLOW_DATABASE_URL": demo_database,
    }
    env.pop("CARATFLOW_PLUGINS", None)
    caratflow = Path(sys.executable).with_name("caratflow")
    process = subprocess.Popen(
        [str(caratflow), "serve", "--demo", "--port", str(free_port())],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    console = Console(process)
    try:
        console.wait_for("caratflow serving on")
        yield console
    finally:
        process.terminate()
        process.wait(timeout=10)


def printed(console: Console) -> tuple[str, str, list[str]]:
    """The sign-in address, the password and the user names, as a reader takes them."""
    [match] = [m for line in console.lines if (m := SIGN_IN.search(line))]
    start = next(i for i, line in enumerate(console.lines) if SIGN_IN.search(line))
    names = []
    for line in console.lines[start + 1 :]:
        if not line.startswith("  ") or line.startswith("  ("):
            break
        names.append(line.split()[0])
    return match["url"], match["pw"], names


def test_the_demos_printed_credentials_sign_in(demo, new_page):
    url, password, names = printed(demo)
    assert {"be-officer-1", "be-officer-2", "no-officer-1", "demo-admin"} <= set(names)
    assert len(password) >= 12
    page, problems = new_page()
    page.goto(url)
    page.fill("#name", "be-officer-1")
    page.fill("#password", password)
    page.click("main button[type=submit]")
    page.wait_for_url(url.removesuffix("login"))
    assert "be-officer-1" in page.inner_text("header")
    assert page.locator("main").inner_text()  # the start page, with the demo's shipments
    assert problems == []


def test_the_administrator_enrols_by_scanning_the_qr_code(demo, new_page):
    url, password, _ = printed(demo)
    page, _problems = new_page()
    page.goto(url)
    page.fill("#name", "demo-admin")
    page.fill("#password", password)
    page.click("main button[type=submit]")
    page.wait_for_url("**/login/enrol")
    scanned = zxingcpp.read_barcodes(Image.open(io.BytesIO(page.locator("#qr").screenshot())))
    [code] = [c.text for c in scanned]
    assert code.startswith("otpauth://totp/")
    secret = parse_qs(urlsplit(code).query)["secret"][0]
    assert page.inner_text("#secret").replace(" ", "") == secret  # the same key, to type
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("main button[type=submit]")
    page.wait_for_url(url.removesuffix("login"))
    assert "demo-admin" in page.inner_text("header")
