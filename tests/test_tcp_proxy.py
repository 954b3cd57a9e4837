"""The chaos proxy: bytes and half-closes pass through; `cut()` fails clients promptly."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest

from chaos.tcp_proxy import TcpProxy

PG_HOST, PG_PORT = "127.0.0.1", 5432
PROMPTLY = 2.0  # seconds; a hang would wait for a TCP or driver timeout instead
# What asyncpg raises on a connection that was dropped under it (mid-query, or before it).
DROPPED = (asyncpg.ConnectionDoesNotExistError, asyncpg.InterfaceError)


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Greets first, echoes until the client's FIN, then sends a last word and closes."""
    try:
        writer.write(b"hello\n")
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.write(b"bye")
        await writer.drain()
    except ConnectionError:
        pass  # the proxy was cut under us
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


@pytest.fixture
async def echo_proxy() -> AsyncIterator[tuple[TcpProxy, int]]:
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    proxy = TcpProxy("127.0.0.1", server.sockets[0].getsockname()[1])
    port = await proxy.start()
    yield proxy, port
    await proxy.close()
    server.close()
    await server.wait_closed()


async def test_bytes_flow_both_ways_and_a_half_close_keeps_the_other_direction(echo_proxy):
    proxy, port = echo_proxy
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    assert await reader.readline() == b"hello\n"  # upstream may speak first
    assert proxy.connections == 1
    payload = os.urandom(4 * 1024 * 1024)  # far beyond socket buffers: backpressure

    async def send() -> None:
        writer.write(payload)
        await writer.drain()
        writer.write_eof()

    # After our FIN the echo and its "bye" still arrive; then its FIN ends the stream.
    _, received = await asyncio.gather(send(), reader.read())
    assert received == payload + b"bye"
    writer.close()
    await writer.wait_closed()
    assert proxy.connections == 0  # closed once both directions had ended


async def test_cut_resets_open_and_new_connections_until_restored(echo_proxy):
    proxy, port = echo_proxy
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    assert await reader.readline() == b"hello\n"

    proxy.cut()
    assert proxy.is_cut
    async with asyncio.timeout(PROMPTLY):
        with pytest.raises(ConnectionResetError):
            await reader.read()
        writer.close()
        new_reader, new_writer = await asyncio.open_connection("127.0.0.1", port)
        with pytest.raises(ConnectionResetError):
            await new_reader.read()
        new_writer.close()
    assert proxy.connections == 0

    proxy.restore()
    assert not proxy.is_cut
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    assert await reader.readline() == b"hello\n"
    writer.close()


async def test_a_dead_upstream_resets_the_client():
    listener = await asyncio.start_server(_echo, "127.0.0.1", 0)
    dead_port = listener.sockets[0].getsockname()[1]
    listener.close()
    await listener.wait_closed()
    proxy = TcpProxy("127.0.0.1", dead_port)
    port = await proxy.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        async with asyncio.timeout(PROMPTLY):
            with pytest.raises(ConnectionResetError):
                await reader.read()
        writer.close()
    finally:
        await proxy.close()


@pytest.fixture
async def pg_proxy() -> AsyncIterator[tuple[TcpProxy, Callable[[], Awaitable]]]:
    """A proxy in front of the shared PostgreSQL, and a way to connect through it."""
    try:
        probe = await asyncpg.connect(
            host=PG_HOST, port=PG_PORT, user="postgres", database="test", timeout=1
        )
    except (OSError, asyncpg.PostgresError) as exc:  # TimeoutError is an OSError
        pytest.skip(f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT}: {exc!r}")
    await probe.close()
    proxy = TcpProxy(PG_HOST, PG_PORT)
    port = await proxy.start()

    def connect() -> Awaitable[asyncpg.Connection]:
        return asyncpg.connect(host="127.0.0.1", port=port, user="postgres", database="test")

    yield proxy, connect
    await proxy.close()


async def test_postgres_through_the_proxy_fails_promptly_when_cut(pg_proxy):
    proxy, connect = pg_proxy
    conn = await connect()
    try:
        assert await conn.fetchval("SELECT 1") == 1
        assert proxy.connections == 1

        proxy.cut()
        # The timeout is outermost: a hang must fail the test, not count as the error.
        async with asyncio.timeout(PROMPTLY):
            with pytest.raises(DROPPED):
                await conn.fetchval("SELECT 1")
            with pytest.raises(ConnectionResetError):
                await connect()
    finally:
        conn.terminate()

    proxy.restore()
    again = await connect()
    try:
        assert await again.fetchval("SELECT 1") == 1
    finally:
        await again.close()


async def test_cut_fails_a_postgres_query_in_flight(pg_proxy):
    proxy, connect = pg_proxy
    conn = await connect()
    try:
        asyncio.get_running_loop().call_later(0.2, proxy.cut)
        async with asyncio.timeout(PROMPTLY):
            with pytest.raises(DROPPED):
                # The backend sleeps on (it notices only when it replies); the client must not.
                await conn.fetchval("SELECT pg_sleep(3)")
    finally:
        conn.terminate()
