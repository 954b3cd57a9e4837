"""Optional: sample the Gigline server with py-spy during a measured window
(`--profile`; py-spy is the `bench` extra: `pip install -e '.[bench]'`)."""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections import Counter
from pathlib import Path


def py_spy() -> str | None:
    local = Path(sys.executable).with_name("py-spy")
    return str(local) if local.exists() else shutil.which("py-spy")


async def record(pid: int, seconds: float, out: Path) -> Path | None:
    """Samples `pid` and the processes under it for `seconds` into a raw (collapsed-stack)
    file; None without py-spy.
    Only the thread holding the GIL is sampled: where the server's Python CPU goes (idle
    waits in driver threads would otherwise swamp the picture)."""
    exe = py_spy()
    if exe is None:
        return None
    proc = await asyncio.create_subprocess_exec(
        exe, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--format", "raw",
        "--gil", "--nonblocking", "--subprocesses", "--output", str(out),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )
    return out if await proc.wait() == 0 else None


def _frames(raw: Path):
    """(frames root first, samples) per line of a py-spy raw file."""
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if count.isdigit():
            yield stack.split(";"), int(count)


def self_time_by_package(raw: Path, limit: int = 12) -> list[tuple[str, float]]:
    """Share of samples whose innermost frame is in each top-level package: where the
    CPU goes, whoever called it."""
    packages: Counter = Counter()
    total = 0
    for frames, count in _frames(raw):
        total += count
        packages[_package(frames[-1])] += count
    return [(name, round(100 * n / total, 1)) for name, n in packages.most_common(limit)]


def _package(frame: str) -> str:
    """'Session.execute (sqlalchemy/orm/session.py:2555)' -> 'sqlalchemy'."""
    where = frame.partition(" (")[2].removesuffix(")")
    if where.startswith("<sqlalchemy generated"):
        return "sqlalchemy"
    return where.split("/")[0] if "/" in where else where.split(":")[0] or "(native)"


PRODUCT = ("gigline", "telephony", "market", "ivr_flows", "store", "scheduler.py")


def top_functions(raw: Path, limit: int = 25,
                  packages: tuple[str, ...] = PRODUCT) -> list[tuple[str, float]]:
    """Share of samples in which each function of `packages` (Gigline's own, by default)
    appears anywhere on the stack (inclusive): which of its code paths cost the most."""
    inclusive: Counter = Counter()
    total = 0
    for frames, count in _frames(raw):
        total += count
        for frame in set(frames):
            if _package(frame) in packages:
                inclusive[frame] += count
    return [(frame, round(100 * n / total, 1)) for frame, n in inclusive.most_common(limit)]
