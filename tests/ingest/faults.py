"""A fault-injecting TCP proxy in front of the real RTSP server: a bad mobile network on demand.

``FaultProxy(upstream_port).start()`` listens on its own loopback port and relays RTSP over TCP (the
reader's default transport) to the real server. Switching ``mode`` changes what the server's data does on
its way to the reader, for every connection, at once:

* ``pass``: relayed as is.
* ``hold``: nothing reaches the reader but the connection stays open (a silent camera); what the server sends
  meanwhile is kept and delivered in one burst when the mode goes back to ``pass`` (a network that stalls
  and then catches up).
* ``corrupt``: the RTSP framing stays intact but bytes inside the H.264 payload of the RTP packets are
  flipped (damaged video, as after a bad radio link).
* ``truncate``: the connection is cut in the middle of an RTP packet (a truncated stream), and every new
  connection is cut the same way after a few packets.
"""
from __future__ import annotations

import logging
import random
import socket
import threading
from typing import Literal

log = logging.getLogger(__name__)

Mode = Literal["pass", "hold", "corrupt", "truncate"]
TRUNCATE_AFTER_FRAMES = 40  # interleaved RTP packets relayed before a truncated connection is cut


class _Relay:
    """One client connection: the reader <-> the proxy <-> the server."""

    def __init__(self, proxy: FaultProxy, client: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream = socket.create_connection(("127.0.0.1", proxy.upstream_port), timeout=5)
        self.upstream.settimeout(None)
        self.closed = threading.Event()
        self._buf = bytearray()  # server -> reader data not yet parsed into whole messages
        self._held = bytearray()
        self._frames = 0
        self._rng = random.Random(7)

    def start(self) -> None:
        threading.Thread(target=self._up, name="proxy-up", daemon=True).start()
        threading.Thread(target=self._down, name="proxy-down", daemon=True).start()

    def close(self) -> None:
        self.closed.set()
        for s in (self.client, self.upstream):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _up(self) -> None:
        try:
            while not self.closed.is_set():
                data = self.client.recv(65536)
                if not data:
                    break
                self.upstream.sendall(data)
        except OSError:
            pass
        self.close()

    def _messages(self) -> list[bytes]:
        """Split the server's byte stream into whole RTSP responses and interleaved ($) packets."""
        out: list[bytes] = []
        buf = self._buf
        while buf:
            if buf[0] == 0x24:  # '$' channel len16 payload
                if len(buf) < 4:
                    break
                size = 4 + int.from_bytes(buf[2:4], "big")
                if len(buf) < size:
                    break
            else:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    break
                head = bytes(buf[:end]).decode("latin-1")
                length = 0
                for line in head.split("\r\n"):
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                size = end + 4 + length
                if len(buf) < size:
                    break
            out.append(bytes(buf[:size]))
            del buf[:size]
        return out

    def _corrupt(self, msg: bytes) -> bytes:
        if msg[0] != 0x24 or msg[1] != 0 or len(msg) < 4 + 12 + 40:
            return msg  # RTSP text, RTCP or tiny packets pass: only the video payload is damaged
        data = bytearray(msg)
        for _ in range(6):
            i = self._rng.randrange(4 + 12 + 2, len(data))  # after the RTP header and the FU-A header
            data[i] ^= self._rng.randrange(1, 256)
        return bytes(data)

    def _down(self) -> None:
        try:
            while not self.closed.is_set():
                data = self.upstream.recv(65536)
                if not data:
                    break
                self._buf += data
                for msg in self._messages():
                    mode = self.proxy.mode
                    if mode == "hold":
                        self._held += msg
                        continue
                    if self._held:
                        self.client.sendall(bytes(self._held))  # the backlog arrives as one burst
                        self._held.clear()
                    if mode == "corrupt":
                        msg = self._corrupt(msg)
                    elif mode == "truncate" and msg[0] == 0x24:
                        self._frames += 1
                        if self._frames > TRUNCATE_AFTER_FRAMES:
                            self.client.sendall(msg[: len(msg) // 2])  # half a packet, then the line is gone
                            self.close()
                            return
                    self.client.sendall(msg)
        except OSError:
            pass
        self.close()


class FaultProxy:
    """``with FaultProxy(server.port) as proxy: read(proxy.url(server.mount)); proxy.mode = "corrupt"``."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.mode: Mode = "pass"
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._sock.getsockname()[1])
        self._relays: list[_Relay] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="fault-proxy", daemon=True)
        self.connections = 0

    def url(self, mount: str) -> str:
        return f"rtsp://127.0.0.1:{self.port}{mount}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            try:
                relay = _Relay(self, client)
            except OSError as exc:
                log.info("fault proxy: upstream refused (%s)", exc)
                client.close()
                continue
            self.connections += 1
            self._relays = [r for r in self._relays if not r.closed.is_set()] + [relay]
            relay.start()

    def stop(self) -> None:
        self._stop.set()
        self._sock.close()
        for relay in self._relays:
            relay.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
