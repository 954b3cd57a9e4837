"""CPU time from /proc: on a small machine the server, the generator and PostgreSQL share
the cores, so every result says who used them."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of one process (all its threads)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()  # the name in () may contain spaces
    return (int(fields[11]) + int(fields[12])) / TICK


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and every process under it (`gigline serve --workers N`
    serves from its children), as they run now."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # the process ended while we looked
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += process_cpu(current)
        todo += children.get(current, [])
    return total


def named_cpu(name: str, serving: str = "") -> dict[int, float]:
    """CPU seconds of each process called `name` whose command line mentions `serving`
    (PostgreSQL backends name their database there: others' databases are not ours), by
    process id: a backend that ends inside a window must not take its earlier CPU with it."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name and \
                        serving in (entry / "cmdline").read_text():
                    found[int(entry.name)] = process_cpu(int(entry.name))
            except OSError:
                continue  # the process ended while we looked
    return found


def grown(first: dict[int, float], last: dict[int, float]) -> float:
    """CPU seconds the processes alive at `last` used since `first` (those begun since,
    all of theirs). Those that ended in between are not counted: an undercount, never
    a negative share."""
    return sum(cpu - first.get(pid, 0.0) for pid, cpu in last.items())


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # steal included, guest already counted in user
    return (total - idle) / TICK, total / TICK


@dataclass
class CpuSnapshot:
    at: float
    server: float
    generator: float
    postgres: dict[int, float]
    machine_busy: float
    machine_total: float


class CpuMeter:
    """Snapshots at the edges of a measured window; the difference is the window's use."""

    def __init__(self, server_pid: int, database: str = "gigline_bench"):
        self.server_pid, self.database = server_pid, database

    def snapshot(self) -> CpuSnapshot:
        busy, total = machine_busy()
        return CpuSnapshot(time.perf_counter(), tree_cpu(self.server_pid),
                           process_cpu(os.getpid()), named_cpu("postgres", f" {self.database} "),
                           busy, total)

    @staticmethod
    def usage(first: CpuSnapshot, last: CpuSnapshot) -> dict[str, float]:
        """Percent of one core for each party, `other` being everything else running on
        the machine meanwhile; `machine` is percent of all cores."""
        wall = last.at - first.at

        def pct(a: float, b: float) -> float:
            return round(100 * (b - a) / wall, 1)

        parties = {"server": pct(first.server, last.server),
                   "generator": pct(first.generator, last.generator),
                   "postgres": pct(0.0, grown(first.postgres, last.postgres))}
        busy = pct(first.machine_busy, last.machine_busy)
        total = last.machine_total - first.machine_total
        return {
            **parties,
            "other": round(max(0.0, busy - sum(parties.values())), 1),
            "machine": round(100 * (last.machine_busy - first.machine_busy) / total, 1)
            if total else 0.0,
        }


def background_load(seconds: float = 2.0) -> float:
    """Percent of one core busy on the machine before we start: other people's work."""
    busy, _ = machine_busy()
    time.sleep(seconds)
    return round(100 * (machine_busy()[0] - busy) / seconds, 1)


def wait_for_quiet(threshold: float, limit_s: float) -> float:
    """Waits (up to `limit_s`) for the machine to be under `threshold` % of a core busy,
    so a shared machine's other work does not land in the measurement. Returns the last
    load seen."""
    deadline = time.monotonic() + limit_s
    load = background_load()
    while load > threshold and time.monotonic() < deadline:
        load = background_load()
    return load
