"""Process helpers shared by the tests that start real process trees."""

from __future__ import annotations

import contextlib

import psutil


def alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    """The processes of `processes` that still run (zombies count as gone)."""
    survivors = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                survivors.append(process)
        except psutil.NoSuchProcess:
            continue
    return survivors


def running(pid: int) -> bool:
    """Whether `pid` still runs (a zombie, killed and waiting to be reaped, counts as gone)."""
    try:
        return bool(alive([psutil.Process(pid)]))
    except psutil.NoSuchProcess:
        return False


def kill_all(processes: list[psutil.Process]) -> None:
    """Test cleanup: whatever survived a failing test is killed by pid."""
    for process in alive(processes):
        with contextlib.suppress(psutil.Error):
            process.kill()
