"""CPU time of a process tree and busy time per core, read from /proc (Linux only).

The gateway runs under granian, which forks a worker process and runs Rust threads, so the
whole tree is summed: every task's children, recursively, utime + stime of each process
(a process's figures already include all its threads).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its live descendants."""
    found = [pid]
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return found
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", encoding="ascii") as children:
                for child in children.read().split():
                    found.extend(process_tree(int(child)))
        except FileNotFoundError:
            continue
    return found


def tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds used so far by ``pid`` and its live descendants."""
    ticks = 0
    for member in process_tree(pid):
        try:
            with open(f"/proc/{member}/stat", encoding="ascii", errors="replace") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (man 5 proc, fields 14-15)
    return ticks / _TICKS_PER_S


@dataclass(frozen=True, slots=True)
class CoreTimes:
    """Busy and total jiffies per core at one instant."""

    busy: tuple[int, ...]
    total: tuple[int, ...]


def core_times() -> CoreTimes:
    """Busy/total jiffies of every core from /proc/stat (busy excludes idle and iowait)."""
    busy: list[int] = []
    total: list[int] = []
    with open("/proc/stat", encoding="ascii") as stat:
        for line in stat:
            name, *values = line.split()
            if not name.startswith("cpu") or name == "cpu":
                continue
            numbers = [int(value) for value in values[:8]]
            idle = numbers[3] + numbers[4]
            busy.append(sum(numbers) - idle)
            total.append(sum(numbers))
    return CoreTimes(tuple(busy), tuple(total))


def core_utilisation(before: CoreTimes, after: CoreTimes) -> list[float]:
    """Fraction of each core that was busy between two readings (any process)."""
    shares: list[float] = []
    for busy0, busy1, total0, total1 in zip(
        before.busy, after.busy, before.total, after.total, strict=True
    ):
        span = total1 - total0
        shares.append((busy1 - busy0) / span if span > 0 else 0.0)
    return shares
