"""The board's feed (console.board.BoardFeed): one reader for all the pages of a process,
reading only while someone watches, pushing only what changed, ending the streams when
the server stops or the reader fails."""

from __future__ import annotations

import asyncio

import pytest

from console.board import BoardFeed, StreamEnded

EVERY = 0.05  # seconds between reads: the real feed's second, shrunk


class Source:
    """The board as the database would give it; counts the reads."""

    def __init__(self, board: str = "A"):
        self.board = board
        self.reads = 0
        self.fail: Exception | None = None

    async def __call__(self) -> str:
        self.reads += 1
        if self.fail is not None:
            raise self.fail
        return self.board


async def test_reads_only_while_watched_and_once_for_all_watchers():
    source = Source()
    feed = BoardFeed(source, every=EVERY)
    await asyncio.sleep(3 * EVERY)
    assert source.reads == 0, "no page open: no reads"
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with feed.watching(), feed.watching():
        assert await feed.after(None, wait=1) == "A"
        await asyncio.sleep(10 * EVERY)
        at_most = (loop.time() - started) / EVERY + 1
        assert 2 <= source.reads <= at_most, "one reader for both pages, one read a period"
    stopped_at = source.reads
    await asyncio.sleep(3 * EVERY)
    assert source.reads == stopped_at, "the last page left: reads stop"


async def test_pushes_the_board_only_when_it_changed():
    source = Source()
    feed = BoardFeed(source, every=EVERY)
    async with feed.watching():
        assert await feed.after(None, wait=1) == "A"
        assert await feed.after("A", wait=4 * EVERY) is None, "read again, same board"
        source.board = "B"
        assert await feed.after("A", wait=1) == "B"


async def test_a_page_joining_later_gets_the_board_at_once():
    source = Source()
    feed = BoardFeed(source, every=10)  # no second read in this test
    async with feed.watching():
        assert await feed.after(None, wait=1) == "A"
        async with feed.watching():
            assert await feed.after(None, wait=0.01) == "A"
    assert source.reads == 1


async def test_closing_ends_every_stream_and_refuses_new_ones():
    feed = BoardFeed(Source(), every=EVERY)
    async with feed.watching():
        waiting = asyncio.create_task(feed.after("A", wait=5))
        await asyncio.sleep(2 * EVERY)
        await feed.close()
        with pytest.raises(StreamEnded):
            await waiting
    with pytest.raises(StreamEnded):
        async with feed.watching():
            pass


async def test_an_unreachable_database_keeps_the_last_board_and_a_bug_ends_the_streams(
        caplog):
    source = Source()
    feed = BoardFeed(source, every=EVERY)
    async with feed.watching():
        assert await feed.after(None, wait=1) == "A"
        source.fail = ConnectionRefusedError("database down")
        assert await feed.after("A", wait=4 * EVERY) is None, "the page keeps its board"
        source.fail = ZeroDivisionError()
        with pytest.raises(StreamEnded):
            await feed.after("A", wait=1)
    assert "reading the board failed" in caplog.text
    source.fail = None
    async with feed.watching():
        assert await feed.after(None, wait=1) == "A", "the next page starts a new reader"
