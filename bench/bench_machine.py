"""Why one shared state machine: a transitions ``Machine`` per shipment vs one per workflow.

Fires verify → release on N shipment-like objects both ways, measuring time and the
memory that stays allocated, in the same run.

    python bench/bench_machine.py [--shipments 10000]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

from transitions import Machine

from caratflow.pluginhost import load_plugin_host


class Row:
    def __init__(self) -> None:
        self.state = "presented"
        self.direction = "import"


def machine_per_row(states, transitions, n: int) -> list:
    kept = []
    for _ in range(n):
        row = Row()
        machine = Machine(model=row, states=states, initial="presented", auto_transitions=False)
        for t in transitions:
            machine.add_transition(t.action, list(t.sources), t.dest)
        row.verify()
        row.release()
        kept.append(row)
    return kept


def shared_machine(workflow, n: int) -> list:
    kept = []
    for _ in range(n):
        row = Row()
        workflow.fire(row, "verify")
        workflow.fire(row, "release")
        kept.append(row)
    return kept


def measure(fn, *args):
    tracemalloc.start()
    started = time.perf_counter()
    kept = fn(*args)
    seconds = time.perf_counter() - started
    memory = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del kept
    return seconds, memory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shipments", type=int, default=10_000)
    n = parser.parse_args().shipments
    workflow = load_plugin_host().jurisdiction(["eu", "belgium_g7"]).workflow
    states = list(workflow.states)
    per_row = measure(machine_per_row, states, workflow.transitions, n)
    shared = measure(shared_machine, workflow, n)
    print(f"shipments: {n}; verify + release each")
    print(f"{'machine':<12} {'µs/shipment':>12} {'KiB/shipment kept':>18}")
    for name, (seconds, memory) in (("per row", per_row), ("shared", shared)):
        print(f"{name:<12} {1e6 * seconds / n:12.1f} {memory / n / 1024:18.2f}")
    print(
        f"ratio per-row / shared: time {per_row[0] / shared[0]:.1f}x, "
        f"memory {per_row[1] / shared[1]:.1f}x"
    )


if __name__ == "__main__":
    main()
