"""The threads that decode callers' audio, most urgent first.

Callers who stop speaking together (a crowd answering one question) hand their last
chunks to the pool at the same moment as everyone still speaking hands theirs. Taken in
arrival order, the chunk that ends an utterance, which a caller is waiting on, queues
behind chunks whose answers are not due yet. Here it goes first; chunks of the same
urgency keep their order, and a stream never has more than one chunk in the pool, so
each caller's audio is still decoded in order."""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

URGENT, IN_TURN, STOP = 0, 1, 2  # queue priorities: lower goes first


class DecodingPool:
    def __init__(self, threads: int, name: str):
        self._queue: queue.PriorityQueue = queue.PriorityQueue()
        self._order = itertools.count()  # ties keep their order (and never compare futures)
        self._closed = False
        self._lock = threading.Lock()  # a submit and a shutdown do not interleave
        self._threads = [threading.Thread(target=self._work, name=f"{name}_{i}", daemon=True)
                         for i in range(threads)]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[..., Any], *args: Any, urgent: bool = False) -> Future:
        """Runs `fn(*args)` on a pool thread; RuntimeError once shut down (as
        concurrent.futures' executors)."""
        future: Future = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot schedule new futures after shutdown")
            self._queue.put((URGENT if urgent else IN_TURN, next(self._order), future, fn, args))
        return future

    def shutdown(self, *, wait: bool = True, cancel_futures: bool = False) -> None:
        """Work not started is cancelled (`cancel_futures`) or done first; then the
        threads stop."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if cancel_futures:
                while True:
                    try:
                        _, _, future, _, _ = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    future.cancel()
            for _ in self._threads:
                self._queue.put((STOP, next(self._order), None, None, None))
        if wait:
            for thread in self._threads:
                thread.join()

    def _work(self) -> None:
        while True:
            _, _, future, fn, args = self._queue.get()
            if future is None:
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = fn(*args)
            except BaseException as exc:  # handed to whoever awaits it, as executors do
                future.set_exception(exc)
            else:
                future.set_result(result)
