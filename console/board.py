"""The hall's big screen (电子大屏), `/board`: open jobs and the market's counts, public
(no login, nothing personal), kept current by server-sent events on `/board/events`.

One `BoardFeed` per process reads the board from the database at most once a second
while anyone watches, and pushes it only when it changed. It reads rather than hooks our
own writes, so a job posted or a slot taken through another instance on the same
database shows too."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp_jinja2
from aiohttp import web

from hotline.app_keys import DESK
from hotline.desk import CallDesk
from market.board import Board, read_board
from store.db import database_unreachable

log = logging.getLogger(__name__)
ROWS = 12  # job lines that fit a 1920x1080 screen at the page's type size
READ_EVERY_SECONDS = 1.0  # changes show within 2 s: a read a second, then the push
HEARTBEAT_SECONDS = 15.0  # keeps proxies from closing a quiet stream, finds gone pages
RETRY_MS = 2000  # how long a page's EventSource waits before it reconnects


class StreamEnded(Exception):
    """The feed closed (the server is stopping) or its reader failed: the page reconnects."""


class BoardFeed:
    """The board as watchers see it: the latest snapshot (JSON text) and a wake-up when
    it changes. Reads only while someone watches."""

    def __init__(self, read: Callable[[], Awaitable[str]], *,
                 every: float = READ_EVERY_SECONDS) -> None:
        self._read = read
        self._every = every
        self._latest: str | None = None
        self._changed = asyncio.Condition()
        self._watchers = 0
        self._reader: asyncio.Task | None = None
        self._failed = False
        self.closed = False

    @contextlib.asynccontextmanager
    async def watching(self) -> AsyncIterator[None]:
        if self.closed:
            raise StreamEnded
        self._watchers += 1
        if self._reader is None:
            self._failed = False
            self._reader = asyncio.create_task(self._keep_reading())
        try:
            yield
        finally:
            self._watchers -= 1
            if self._watchers == 0 and self._reader is not None:
                self._reader.cancel()
                self._reader, self._latest = None, None  # stale by the next watcher

    async def after(self, seen: str | None, *, wait: float) -> str | None:
        """The board once it differs from `seen`; None if `wait` passed first. Raises
        StreamEnded once the feed closed or its reader failed."""
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._changed.wait_for(
                        lambda: self._ended or self._latest not in (None, seen))
            if self._ended:
                raise StreamEnded
            return None if self._latest in (None, seen) else self._latest

    @property
    def _ended(self) -> bool:
        return self.closed or self._failed

    async def close(self) -> None:
        """Ends every stream (the server is stopping: the pages reconnect to the next)."""
        self.closed = True
        if self._reader is not None:
            self._reader.cancel()
        async with self._changed:
            self._changed.notify_all()

    async def _keep_reading(self) -> None:
        try:
            while True:
                try:
                    board = await self._read()
                except Exception as exc:
                    if not database_unreachable(exc):
                        raise
                    # The pages keep the last board; the database watch reports the outage.
                    log.info("the board could not be read: the database is unreachable")
                else:
                    if board != self._latest:
                        async with self._changed:
                            self._latest = board
                            self._changed.notify_all()
                await asyncio.sleep(self._every)
        except Exception:
            # Watchers would wait forever on a reader that died: their streams end, the
            # pages reconnect, and once they have all gone the next one starts a reader.
            log.exception("reading the board failed: its streams end")
            async with self._changed:
                self._failed = True
                self._changed.notify_all()


BOARD_FEED = web.AppKey("board_feed", BoardFeed)


def setup(app: web.Application) -> None:
    """The routes and the feed; the feed needs the desk (after the database's context)."""
    app.router.add_get("/board", page, name="board")
    app.router.add_get("/board/events", events, name="board_events")
    app.cleanup_ctx.append(_feed)
    app.on_shutdown.append(_end_streams)  # before the server waits for open handlers


async def _feed(app: web.Application) -> AsyncIterator[None]:
    desk = app[DESK]
    app[BOARD_FEED] = feed = BoardFeed(lambda: _read_json(desk))
    yield
    await feed.close()


async def _end_streams(app: web.Application) -> None:
    if (feed := app.get(BOARD_FEED)) is not None:
        await feed.close()


async def _read(desk: CallDesk) -> dict:
    async with desk.sessions() as session:
        board = await read_board(session, market_id=desk.market_id, timezone=desk.timezone,
                                 now=desk.clock(), limit=ROWS)
    return board_view(board, desk)


async def _read_json(desk: CallDesk) -> str:
    return json.dumps(await _read(desk), ensure_ascii=False, separators=(",", ":"))


def board_view(board: Board, desk: CallDesk) -> dict:
    """The board as the page shows it, words and all: the template renders it at first
    and the page's script puts each update's strings in place as text."""
    words = desk.catalogue

    def day(value) -> str:
        return words.text("date", month=value.month, day=value.day)

    counts = {period: {"registrations": str(c.registrations), "jobs": str(c.jobs),
                       "hires": str(c.hires)}
              for period, c in (("today", board.today), ("month", board.month))}
    return {
        "market": desk.market.name,
        "hotline": desk.hotline,
        "day": day(board.day),
        "lines": [{"code": line.job_code, "trade": line.trade,
                   "remaining": str(line.remaining), "wage": words.yuan(line.day_wage_fen),
                   "town": line.town, "start": day(line.start_date), "days": str(line.days)}
                  for line in board.lines],
        "open_slots": str(board.open_slots),
        "more": str(board.open_lines - len(board.lines)) if board.open_lines > len(
            board.lines) else "",
        **counts,
    }


async def page(request: web.Request) -> web.Response:
    response = aiohttp_jinja2.render_template(
        "board.html", request, {"board": await _read(request.app[DESK])})
    response.headers["Cache-Control"] = "no-store"
    return response


async def events(request: web.Request) -> web.StreamResponse:
    """`retry:`, the board now, then the board each time it changes, until the page
    goes or the server stops."""
    feed = request.app[BOARD_FEED]
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream; charset=utf-8",
        "Cache-Control": "no-cache",
        "X-Accel-Buffering": "no",  # nginx would hold the events back otherwise
    })
    await response.prepare(request)
    await response.write(f"retry: {RETRY_MS}\n\n".encode())
    seen = None
    try:
        with contextlib.suppress(StreamEnded):  # the page's EventSource reconnects
            async with feed.watching():
                while True:
                    board = await feed.after(seen, wait=HEARTBEAT_SECONDS)
                    if board is None:
                        await response.write(b": still here\n\n")
                    else:
                        seen = board
                        await response.write(f"data: {board}\n\n".encode())
        await response.write_eof()
    except ConnectionResetError:
        pass  # the page went away: there is no one to tell
    return response
