"""Run every benchmark and write bench/RESULTS.md: the machine, each ratio, each output.

Each benchmark measures itself against a baseline in the same run (raw SQL, a raw
INSERT, a smaller size) and prints its ratios; this script runs them one after the
other, collects every line that states a ratio into one table and keeps the full
outputs below it, so a reader sees the figures and how they were obtained.

    python bench/run_all.py            # the sizes the issues name (takes hours)
    python bench/run_all.py --quick    # the same benchmarks at small sizes (minutes)
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
    ("bench_lifecycle.py", [], ["--shipments", "300"], "lifecycle: service vs raw SQL"),
    ("bench_machine.py", [], ["--shipments", "2000"], "state machine per row vs shared"),
    ("bench_merkle.py", [], ["--samples", "2000", "--rounds", "2"], "Merkle proofs vs log size"),
    (
        "bench_ledger.py",
        [],
        ["--entries", "5000", "--decisions", "2000", "--large", "100000", "--rounds", "1"],
        "ledger append, verify and proofs",
    ),
    (
        "bench_sweep.py",
        [],
        ["--stored", "2000", "50000", "--schedule", "2000"],
        "deadline sweep vs stored volume; rows vs APScheduler jobs",
    ),
    (
        "bench_web.py",
        [],
        ["--small", "500", "--large", "10000", "--requests", "100", "--rounds", "2"],
        "API latency vs shipments stored",
    ),
    (
        "bench_identities.py",
        [],
        ["--count", "20000", "--lookups", "100"],
        "G7 digital identities: register and look up",
    ),
]
RATIO = re.compile(r"ratio|×|/ raw|per identity", re.I)


def machine() -> list[str]:
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split()[1])
        memory = f", {kib / 2**20:.0f} GiB memory"
    postgres = subprocess.run(
        ["psql", "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return [
        f"- {platform.platform()}, {os.cpu_count()} cores{memory}",
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
    args = parser.parse_args()

    table = ["| benchmark | what it compares | ratio line |", "|---|---|---|"]
    sections = []
    failed = 0
    for script, full, quick, what in BENCHMARKS:
        if args.only and script not in args.only:
            continue
        arguments = quick if args.quick else full
        print(f"running {script} {' '.join(arguments)}", flush=True)
        output, seconds, status = run(script, arguments)
        failed += status != 0
        ratios = [line.strip() for line in output.splitlines() if RATIO.search(line)]
        for line in ratios or [f"(exit {status}: see its output)"]:
            table.append(f"| `{script}` | {what} | {line.replace('|', '/')} |")
        command = " ".join(["python", f"bench/{script}", *arguments])
        sections.append(f"### {script}\n\n`{command}` ({seconds:.0f} s)\n\n```\n{output}```\n")
    mode = "quick sizes (--quick)" if args.quick else "full sizes"
    RESULTS.write_text(
        "\n".join(
            [
                "# Benchmark results",
                "",
                f"Written by `python bench/run_all.py` at {mode}. Every figure is a ratio to a",
                "baseline measured in the same run, so machines compare by ratio, not time.",
                "",
                "## Machine",
                "",
                *machine(),
                "",
                "## Ratios",
                "",
                *table,
                "",
                "## Outputs",
                "",
                *sections,
            ]
        ),
        "utf-8",
    )
    print(f"wrote {RESULTS}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
