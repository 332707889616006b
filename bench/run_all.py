"""Run every benchmark and write bench/RESULTS.md: the machine, each ratio, each output.

Each benchmark measures itself against a baseline in the same run (raw SQL, a raw
INSERT, a smaller size) and prints its ratios; this script runs them one after the
other, collects every line that states a ratio into one table and keeps the full
outputs below it, so a reader sees the figures and how they were obtained.

    python bench/run_all.py            # the sizes the issues name (about 40 minutes here)
    python bench/run_all.py --quick    # the same benchmarks at small sizes (minutes)
    python bench/run_all.py --load 10  # and the 10-minute load test against gunicorn
    python bench/run_all.py --only load.py --load 10   # re-run one; keep the others' results

Full sizes are those the issues name, except where a size would take the machine far
beyond the run's budget; each such cut is in the table below, with the size the
benchmark's own default would take.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"

# (script, full-size arguments, quick arguments, what it compares)
BENCHMARKS = [
    (
        "bench_lifecycle.py",
        ["--rounds", "5", "--per-round", "10"],  # at 1,000 and 100,000 stored
        ["--stored", "500,5000", "--rounds", "2", "--per-round", "5"],
        "lifecycle: the engine as the API runs it vs raw SQL, by stored volume (SQLite)",
    ),
    (
        "bench_lifecycle.py",
        ["--rounds", "5", "--per-round", "10", "--backend", "postgresql"],
        ["--stored", "500,5000", "--rounds", "2", "--per-round", "5", "--backend", "postgresql"],
        "lifecycle: the engine as the API runs it vs raw SQL, by stored volume (PostgreSQL)",
    ),
    ("bench_machine.py", [], ["--shipments", "2000"], "state machine per row vs shared"),
    ("bench_merkle.py", [], ["--samples", "2000", "--rounds", "2"], "Merkle proofs vs log size"),
    (
        "bench_ledger.py",
        [],
        ["--entries", "5000", "--decisions", "2000", "--large", "100000", "--rounds", "1"],
        "ledger append, verify and proofs",
    ),
    (
        "bench_leaf_authentication.py",
        [],
        ["--decisions", "2000", "--rounds", "1"],
        "leaf authentication: sealing a decision and verify, vs without (issue 25)",
    ),
    (
        "bench_sweep.py",
        ["--schedule", "5000"],  # 20,000 took 11 minutes of scheduling alone (issue 4)
        ["--stored", "2000", "50000", "--schedule", "2000"],
        "deadline sweep vs stored volume and vs APScheduler's job store; scheduling",
    ),
    (
        "bench_web.py",
        [],
        ["--small", "500", "--large", "10000", "--requests", "100", "--rounds", "2"],
        "pages and API latency at 1k vs 100k shipments",
    ),
    (
        "bench_search.py",
        [],  # 1,000 and 100,000 shipments, on SQLite and PostgreSQL
        ["--small", "500", "--large", "10000", "--searches", "100", "--rounds", "2"],
        "search box at 1k vs 100k shipments (SQLite, then PostgreSQL)",
    ),
    (
        "bench_memory.py",
        [],
        ["--shipments", "10000"],
        "memory of shipments loaded: ORM vs row tuples",
    ),
    (
        "bench_identities.py",
        [],  # 1,000,000 identities
        ["--count", "20000", "--lookups", "100"],
        "G7 digital identities: register and look up (SQLite)",
    ),
    (
        "bench_identities.py",
        ["--backend", "postgresql"],
        ["--count", "20000", "--lookups", "100", "--backend", "postgresql"],
        "G7 digital identities: register and look up (PostgreSQL)",
    ),
]
LOAD = ("load.py", "load: officers and integrations against gunicorn + PostgreSQL")
RATIO = re.compile(
    r"ratio|×|/ raw|per identity|per 100,000|error rate|lost|look-up|all requests|requests/s"
    r"|statements per decision",
    re.I,
)


def machine() -> list[str]:
    memory, processor = "", ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = re.findall(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.M)
        processor = f" ({names[0]})" if names else ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split()[1])
        memory = f", {kib / 2**20:.0f} GiB memory"
    postgres = subprocess.run(
        ["psql", "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return [
        f"- {platform.platform()}, {os.cpu_count()} cores{processor}{memory}",
        f"- Python {platform.python_version()}; {postgres or 'psql not found'}",
        f"- run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
    ]


def run(script: str, arguments: list[str]) -> tuple[str, float, int]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(HERE / script), *arguments],
        capture_output=True,
        text=True,
        check=False,
    )
    output = done.stdout + (f"\n[stderr]\n{done.stderr}" if done.returncode else "")
    return output, time.perf_counter() - started, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--only", nargs="*", help="script names to run (default: all)")
    parser.add_argument("--load", type=float, metavar="MINUTES", help="run load.py this long")
    args = parser.parse_args()

    plan = list(BENCHMARKS)
    if args.load:
        minutes = ["--minutes", f"{args.load:g}"]
        plan.append((LOAD[0], minutes, minutes, LOAD[1]))
    # With --only, the results of the benchmarks not run again are kept as they were.
    rows, sections = kept_results() if args.only else ({}, {})
    failed = 0
    for script, full, quick, what in plan:
        if args.only and script not in args.only:
            continue
        arguments = quick if args.quick else full
        label = " ".join([script, *arguments])
        print(f"running {label}", flush=True)
        output, seconds, status = run(script, arguments)
        failed += status != 0
        ratios = [line.strip() for line in output.splitlines() if RATIO.search(line)]
        rows[label] = [
            f"| `{label}` | {what} | {line.replace('|', '/')} |"
            for line in ratios or [f"(exit {status}: see its output)"]
        ]
        finished = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
        sections[label] = (
            f"### {label}\n\n{seconds:.0f} s, finished {finished}\n\n```\n{output.rstrip()}\n```\n"
        )
    mode = "quick sizes (--quick)" if args.quick else "full sizes"
    RESULTS.write_text(
        "\n".join(
            [
                "# Benchmark results",
                "",
                f"Written by `python bench/run_all.py` at {mode}. Every figure is a ratio to a",
                "baseline measured in the same run, so machines compare by ratio, not time.",
                "Run on the machine below with nothing else running (each output says when it",
                "finished; `--only` re-runs some and keeps the others); compare ratios, not times.",
                "",
                "## Machine",
                "",
                *machine(),
                "",
                "## Ratios",
                "",
                "| benchmark (`bench/…`) | what it compares | ratio line |",
                "|---|---|---|",
                *(row for found in rows.values() for row in found),
                "",
                "## Outputs",
                "",
                *sections.values(),
            ]
        ),
        "utf-8",
    )
    print(f"wrote {RESULTS}")
    sys.exit(1 if failed else 0)


def kept_results() -> tuple[dict[str, list[str]], dict[str, str]]:
    """The table rows and output sections of the last RESULTS.md, by benchmark."""
    if not RESULTS.exists():
        return {}, {}
    text = RESULTS.read_text("utf-8")
    rows: dict[str, list[str]] = {}
    for line in text.splitlines():
        if found := re.match(r"\| `([^`]+)` \|", line):
            rows.setdefault(found.group(1), []).append(line)
    sections = {
        found.group(1): found.group(0)
        for found in re.finditer(r"^### (.+?)\n.*?^```\n.*?^```\n", text, re.M | re.S)
    }
    return rows, sections


if __name__ == "__main__":
    main()
