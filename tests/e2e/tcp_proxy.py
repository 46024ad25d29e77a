"""A small TCP proxy on 127.0.0.1 whose upstream a test can cut and restore (fault injection).

``cut()`` closes every open connection at once and, until ``restore()``, closes each new one
as soon as it is accepted: to a database client this is a server that went away, not one that
hangs. The proxy is bounded: at most ``max_connections`` pairs (two pump threads each), and it
shuts itself down after ``lifetime_seconds`` even if a test forgets to.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Self

_CHUNK = 65_536
_ACCEPT_WAKEUP_S = 0.1  # how often the accept loop looks at the stop flag and the deadline
_UPSTREAM_CONNECT_TIMEOUT_S = 5.0
_JOIN_TIMEOUT_S = 5.0


class _Link:
    """One client connection and its upstream connection."""

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self._closed = False
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for sock in (self.client, self.upstream):
            _shut(sock)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)  # wakes the pump blocked in recv() on this socket
    except OSError:
        pass  # already disconnected by the peer
    sock.close()


class TcpProxy:
    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        *,
        max_connections: int = 32,
        lifetime_seconds: float = 120.0,
    ) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._max_connections = max_connections
        self._deadline = time.monotonic() + lifetime_seconds
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(_ACCEPT_WAKEUP_S)
        self._lock = threading.Lock()
        self._links: set[_Link] = set()
        self._threads: list[threading.Thread] = []
        self._is_cut = False
        self._stopping = threading.Event()
        self.accepted = 0  # connections forwarded upstream
        self.refused = 0  # connections closed on arrival (cut, or over max_connections)
        self._acceptor = threading.Thread(target=self._accept_loop, name="tcp-proxy", daemon=True)

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._links)

    def __enter__(self) -> Self:
        self._acceptor.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def cut(self) -> None:
        """Drop every open connection; refuse new ones until :meth:`restore`."""
        with self._lock:
            self._is_cut = True
            links, self._links = self._links, set()
        for link in links:
            link.close()

    def restore(self) -> None:
        with self._lock:
            self._is_cut = False

    def close(self) -> None:
        self._stopping.set()
        self.cut()
        if self._acceptor.is_alive():
            self._acceptor.join(_JOIN_TIMEOUT_S)
        self._listener.close()
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(_JOIN_TIMEOUT_S)

    # --- inside the proxy's threads

    def _accept_loop(self) -> None:
        while not self._stopping.is_set() and time.monotonic() < self._deadline:
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                break  # the listener was closed
            self._admit(client)
        self._stopping.set()
        self.cut()

    def _admit(self, client: socket.socket) -> None:
        client.settimeout(None)
        with self._lock:
            refuse = self._is_cut or len(self._links) >= self._max_connections
            if refuse:
                self.refused += 1
        if refuse:
            _shut(client)
            return
        try:
            upstream = socket.create_connection(self._upstream, _UPSTREAM_CONNECT_TIMEOUT_S)
        except OSError:
            _shut(client)
            return
        upstream.settimeout(None)
        self._start_link(_Link(client, upstream))

    def _start_link(self, link: _Link) -> None:
        with self._lock:
            if self._is_cut:  # cut while the upstream connection was being opened
                self.refused += 1
                link.close()
                return
            self.accepted += 1
            self._links.add(link)
            self._threads = [t for t in self._threads if t.is_alive()]
            for source, sink in ((link.client, link.upstream), (link.upstream, link.client)):
                thread = threading.Thread(
                    target=self._pump, args=(link, source, sink), name="tcp-proxy-pump", daemon=True
                )
                self._threads.append(thread)
                thread.start()

    def _pump(self, link: _Link, source: socket.socket, sink: socket.socket) -> None:
        # Ends when either side closes, or when cut()/close() shuts both sockets down.
        try:
            while chunk := source.recv(_CHUNK):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            with self._lock:
                self._links.discard(link)
            link.close()
