"""The decoding threads take a caller's last chunk, the one they wait on, before the
chunks of callers still speaking; otherwise in order, as an executor would."""

from __future__ import annotations

import threading
from concurrent.futures import CancelledError

import pytest

from speech.decoding_pool import DecodingPool


def blocked_pool() -> tuple[DecodingPool, threading.Event]:
    """One thread, busy until the event is set: what is submitted meanwhile queues."""
    pool, go_on, started = DecodingPool(1, "test"), threading.Event(), threading.Event()

    def busy() -> None:
        started.set()
        go_on.wait(5)

    pool.submit(busy)
    assert started.wait(5)
    return pool, go_on


def test_an_urgent_chunk_is_decoded_before_those_queued_ahead_of_it():
    pool, go_on = blocked_pool()
    done: list[str] = []
    futures = [pool.submit(done.append, "speaking 1"), pool.submit(done.append, "speaking 2"),
               pool.submit(done.append, "stopped", urgent=True),
               pool.submit(done.append, "speaking 3"),
               pool.submit(done.append, "stopped too", urgent=True)]
    go_on.set()
    for future in futures:
        future.result(5)
    assert done == ["stopped", "stopped too", "speaking 1", "speaking 2", "speaking 3"]
    pool.shutdown()


def test_a_result_and_an_error_reach_whoever_waits_for_them():
    pool = DecodingPool(2, "test")
    assert pool.submit(sum, [1, 2, 3]).result(5) == 6
    with pytest.raises(ZeroDivisionError):
        pool.submit(lambda: 1 / 0).result(5)
    assert pool.submit(sum, [4]).result(5) == 4, "a failure does not stop the thread"
    pool.shutdown()


def test_shutting_down_cancels_what_has_not_started_and_refuses_more():
    pool, go_on = blocked_pool()
    queued = pool.submit(lambda: "never")
    stopping = threading.Thread(target=pool.shutdown, kwargs={"cancel_futures": True})
    stopping.start()
    with pytest.raises(CancelledError):
        queued.result(5)
    go_on.set()
    stopping.join(5)
    assert not stopping.is_alive()
    with pytest.raises(RuntimeError):
        pool.submit(lambda: None)
    assert not any(t.name.startswith("test_") and t.is_alive() for t in threading.enumerate())


def test_shutting_down_without_cancelling_finishes_the_queued_work():
    pool, go_on = blocked_pool()
    queued = pool.submit(lambda: "done")
    go_on.set()
    pool.shutdown(wait=True)
    assert queued.result(0) == "done"
