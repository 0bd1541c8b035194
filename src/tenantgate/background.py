"""Stopping the gateway's background tasks: pollers, rollers, writers, probes.

Every component that runs a loop in the background stops it the same way at shutdown:
cancel it, then wait until it has unwound, so nothing it owns is used after ``aclose``.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


async def stop_tasks(*tasks: asyncio.Task[Any] | None) -> None:
    """Cancel every given task (None: never started), then wait for each to finish."""
    running = [task for task in tasks if task is not None]
    for task in running:
        task.cancel()
    for task in running:
        with contextlib.suppress(asyncio.CancelledError):
            await task
