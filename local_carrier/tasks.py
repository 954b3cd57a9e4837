"""Background work the carrier starts (SMS delivery, callbacks, redirects), kept on a leash.

Every task is tracked so tests can wait for it (drain) and close() leaves nothing running.
A task that crashes is a bug in the stand-in, so drain() re-raises it instead of hiding it.
"""

import asyncio
from collections.abc import Coroutine
from typing import Any


class TaskTracker:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._crashes: list[BaseException] = []

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._crashes.append(task.exception())

    async def drain(self) -> None:
        """Wait until no background work is left (tasks may start more tasks)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._crashes:
            raise self._crashes.pop(0)

    async def close(self) -> None:
        while self._tasks:
            pending = list(self._tasks)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
