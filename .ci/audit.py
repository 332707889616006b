"""Known vulnerabilities in the installed environment: fail CI on any (issue 11).

pip-audit (``--vulnerability-service pypi``) asks PyPI's JSON API for each installed
release (``<pypi>/<name>/<version>/json``). Where that document is not served (the
package index this CI reaches serves only ``<pypi>/<name>/json``, the latest release's),
pip-audit skips the package and reports nothing, which would make this step unable to
fail. So every package it skipped is looked up again by its project document: when the
installed release is the latest, that document's ``vulnerabilities`` are the installed
release's. A package that is neither audited by pip-audit nor the latest release is
named as not audited; one that could not be looked up at all fails the step.

    python .ci/audit.py          # exit 1 on any known vulnerability or failed look-up
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from typing import Any

from pip._internal.models.index import PyPI  # the JSON API pip-audit's service asks

OWN = "caratflow"  # the project itself: not on PyPI


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503


def pip_audit() -> list[dict[str, Any]]:
    """pip-audit's verdict per installed distribution (``vulns`` or ``skip_reason``)."""
    done = subprocess.run(
        [
            *(sys.executable, "-m", "pip_audit", "--vulnerability-service", "pypi"),
            *("--skip-editable", "--format", "json", "--progress-spinner", "off"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode not in (0, 1):  # 1: vulnerabilities found
        sys.exit(f"pip-audit failed ({done.returncode}):\n{done.stderr}")
    return json.loads(done.stdout)["dependencies"]


def project_document(name: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{PyPI.pypi_url}/{name}/json", timeout=60) as response:
        return json.load(response)


def advisories(document: dict[str, Any]) -> list[str]:
    return [
        f"{v['id']} (fixed in {', '.join(v.get('fixed_in') or []) or 'no release yet'})"
        for v in document.get("vulnerabilities") or []
        if v.get("withdrawn") is None
    ]


def main() -> int:
    installed = {canonical(d.metadata["Name"]): d.version for d in metadata.distributions()}
    findings: dict[str, list[str]] = {}
    audited, skipped = [], []
    for dependency in pip_audit():
        name = canonical(dependency["name"])
        if "skip_reason" in dependency:
            if name != OWN:
                skipped.append(name)
            continue
        audited.append(name)
        if dependency["vulns"]:
            findings[name] = [
                f"{v['id']} (fixed in {', '.join(v['fix_versions'])})" for v in dependency["vulns"]
            ]

    unaudited, broken = [], []

    def look_up(name: str) -> None:
        try:
            document = project_document(name)
        except (urllib.error.URLError, TimeoutError, ValueError) as error:
            broken.append(f"{name}: {error}")
            return
        latest = document["info"]["version"]
        if latest != installed.get(name):
            unaudited.append(f"{name} {installed.get(name)} (latest {latest})")
        elif found := advisories(document):
            findings[name] = found
        else:
            audited.append(name)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(look_up, skipped))

    print(f"audited {len(audited)} installed releases: {len(findings)} with known vulnerabilities")
    for name, found in sorted(findings.items()):
        print(f"  VULNERABLE {name} {installed.get(name)}: {'; '.join(found)}")
    if unaudited:
        print("not audited (older than the latest release, whose advisories alone are served):")
        for line in sorted(unaudited):
            print(f"  {line}")
    for line in broken:
        print(f"  LOOK-UP FAILED {line}")
    return 1 if findings or broken else 0


if __name__ == "__main__":
    sys.exit(main())
