"""The upstream client's keep-alive pool: per-host and total limits, FIFO waiters, idle expiry.

Limits count connections *in use* (connecting or carrying a request), like aiohttp's
connector, so idle keep-alive connections never block another host. The most recently used
idle connection is reused first: it is the least likely to have been closed by the server.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, Protocol, TypeVar

PoolKey = tuple[str, str, int]
"""(scheme, host, port): connections are shared only within one origin."""


class PooledConnection(Protocol):
    """What the pool needs of a connection."""

    idle_since: float

    def is_reusable(self) -> bool:
        """Whether it is still open and may carry another request."""
        ...

    def abort(self) -> None:
        """Close it at once."""
        ...


C = TypeVar("C", bound=PooledConnection)


class _Host(Generic[C]):
    __slots__ = ("busy", "idle")

    def __init__(self) -> None:
        self.busy = 0
        self.idle: deque[C] = deque()


class ConnectionPool(Generic[C]):
    """Hands out idle connections or slots to open one; callers give each back with release()."""

    def __init__(
        self, *, connections_max: int, connections_per_host_max: int, keepalive_s: float
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._max = connections_max
        self._per_host_max = connections_per_host_max
        self._keepalive_s = keepalive_s
        self._hosts: dict[PoolKey, _Host[C]] = {}
        self._busy = 0
        self._waiters: deque[tuple[_Host[C], asyncio.Future[C | None]]] = deque()
        self._sweep: asyncio.TimerHandle | None = None

    def _host(self, key: PoolKey) -> _Host[C]:
        host = self._hosts.get(key)
        if host is None:
            host = self._hosts[key] = _Host()
        return host

    def take(self, key: PoolKey) -> tuple[bool, C | None]:
        """Without waiting: (False, None) at a limit, else (True, an idle connection or None to open)."""
        host = self._host(key)
        if self._busy >= self._max or host.busy >= self._per_host_max:
            return False, None
        host.busy += 1
        self._busy += 1
        return True, self._pop_idle(host)

    async def wait(self, key: PoolKey) -> C | None:
        """Queue (FIFO) until a slot frees: an idle connection, or None to open a new one."""
        host = self._host(key)
        waiter: asyncio.Future[C | None] = self._loop.create_future()
        self._waiters.append((host, waiter))
        try:
            return await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():  # served, then cancelled: give it back
                self._give_back(host, waiter.result())
            raise

    def release(self, key: PoolKey, conn: C | None) -> None:
        """Free a slot; ``conn`` (reusable, response fully read) goes back to the idle list."""
        self._give_back(self._host(key), conn)

    def _give_back(self, host: _Host[C], conn: C | None) -> None:
        host.busy -= 1
        self._busy -= 1
        if conn is not None:
            conn.idle_since = self._loop.time()
            host.idle.append(conn)
            if self._sweep is None:
                self._sweep = self._loop.call_later(self._keepalive_s / 2, self._sweep_idle)
        if self._waiters:
            self._serve_waiters()

    def _serve_waiters(self) -> None:
        kept: deque[tuple[_Host[C], asyncio.Future[C | None]]] = deque()
        for host, waiter in self._waiters:
            if waiter.done():
                continue
            if self._busy < self._max and host.busy < self._per_host_max:
                host.busy += 1
                self._busy += 1
                waiter.set_result(self._pop_idle(host))
            else:
                kept.append((host, waiter))
        self._waiters = kept

    def _pop_idle(self, host: _Host[C]) -> C | None:
        idle = host.idle
        expired_before = self._loop.time() - self._keepalive_s
        while idle:
            conn = idle.pop()
            if conn.idle_since > expired_before and conn.is_reusable():
                return conn
            conn.abort()
        return None

    def _sweep_idle(self) -> None:
        """Close connections idle longer than the keep-alive expiry, or closed by the server."""
        self._sweep = None
        expired_before = self._loop.time() - self._keepalive_s
        left = 0
        for host in self._hosts.values():
            kept: deque[C] = deque()
            for conn in host.idle:
                if conn.idle_since > expired_before and conn.is_reusable():
                    kept.append(conn)
                else:
                    conn.abort()
            host.idle = kept
            left += len(kept)
        if left:
            self._sweep = self._loop.call_later(self._keepalive_s / 2, self._sweep_idle)

    def close(self) -> None:
        """Close every idle connection and fail every waiter."""
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        for host in self._hosts.values():
            for conn in host.idle:
                conn.abort()
            host.idle.clear()
        for _, waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(ConnectionAbortedError("the HTTP client was closed"))
        self._waiters.clear()
