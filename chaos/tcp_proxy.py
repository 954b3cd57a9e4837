"""A TCP proxy that can cut a service off on demand, for chaos tests.

Point clients at the proxy instead of the service (the shared PostgreSQL, say); `cut()`
then makes the service look dead to them without touching the server itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct


def _reset(transport: asyncio.BaseTransport) -> None:
    """Close with RST rather than FIN: the peer's next read or write fails at once, as when
    a server host dies, instead of looking like an orderly end of stream."""
    sock = transport.get_extra_info("socket")
    with contextlib.suppress(OSError):  # already closed: abort() below is then a no-op
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


class _Side(asyncio.Protocol):
    """One socket of a proxied pair: what it reads, its peer's transport writes."""

    def __init__(self, proxy: TcpProxy, peer: _Side | None = None) -> None:
        self.proxy = proxy
        self.peer = peer
        self.is_client = peer is None  # accepted by the proxy, not dialled by it
        self.transport: asyncio.Transport
        self.got_eof = False
        self.lost = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.proxy._sides.add(self)
        if self.peer is None:
            self.proxy._accepted(self)
        else:
            self.peer.peer = self  # linked before any upstream byte can arrive

    def data_received(self, data: bytes) -> None:
        assert self.peer is not None  # a client reads only once its upstream is linked
        self.peer.transport.write(data)

    def eof_received(self) -> bool:
        # Half-close: pass the FIN on but keep the other direction flowing until it ends too.
        assert self.peer is not None
        self.got_eof = True
        self.peer.transport.write_eof()
        if self.peer.got_eof:
            self.transport.close()
            self.peer.transport.close()
        return True

    # Backpressure: while this side's outgoing buffer is full, stop reading from the peer.
    # (Only linked sides are ever written to, so the peer is set here.)
    def pause_writing(self) -> None:
        self.peer.transport.pause_reading()  # type: ignore[union-attr]

    def resume_writing(self) -> None:
        self.peer.transport.resume_reading()  # type: ignore[union-attr]

    def connection_lost(self, exc: Exception | None) -> None:
        self.proxy._sides.discard(self)
        self.lost.set_result(None)
        peer = self.peer
        if peer is not None and not peer.transport.is_closing():
            # A reset travels on as a reset, an orderly close as an orderly close.
            if exc is None:
                peer.transport.close()
            else:
                _reset(peer.transport)


class TcpProxy:
    """Forwards TCP connections to (target_host, target_port) until it is `cut()`."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._sides: set[_Side] = set()
        self._dialling: set[asyncio.Task[None]] = set()
        self._cut = False

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen on (host, port) and return the port actually bound."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Side(self), host, port)
        return self._server.sockets[0].getsockname()[1]

    @property
    def is_cut(self) -> bool:
        return self._cut

    @property
    def connections(self) -> int:
        """Client connections currently open through the proxy."""
        return sum(side.is_client for side in self._sides)

    def cut(self) -> None:
        """Reset every proxied connection (both ends) and, until `restore()`, new ones too.

        Accept-then-RST rather than closing the port: as prompt an error for clients, and
        `restore()` never has to race other sockets to re-bind the port."""
        self._cut = True
        for side in list(self._sides):
            _reset(side.transport)

    def restore(self) -> None:
        """Accept and proxy new connections again (cut ones stay gone, as after a crash)."""
        self._cut = False

    async def close(self) -> None:
        """Stop listening, drop every connection and wait until all sockets are closed."""
        if self._server is not None:
            self._server.close()
        for task in self._dialling:
            task.cancel()
        await asyncio.gather(*self._dialling, return_exceptions=True)
        sides = list(self._sides)
        for side in sides:
            _reset(side.transport)
        await asyncio.gather(*(side.lost for side in sides))
        if self._server is not None:
            await self._server.wait_closed()

    def _accepted(self, client: _Side) -> None:
        if self._cut:
            _reset(client.transport)
            return
        client.transport.pause_reading()  # hold the client's bytes until upstream is linked
        task = asyncio.get_running_loop().create_task(self._dial(client))
        self._dialling.add(task)
        task.add_done_callback(self._dialling.discard)

    async def _dial(self, client: _Side) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.create_connection(lambda: _Side(self, peer=client), *self._target)
        except OSError:
            _reset(client.transport)  # the service is unreachable, so the proxy is too
            return
        if client.transport.is_closing():  # cut, or the client left, while we dialled
            assert client.peer is not None
            _reset(client.peer.transport)
        else:
            client.transport.resume_reading()
