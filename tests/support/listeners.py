"""TCP peers for tests of outbound connections, each on a real socket of its own:

- `RecordingListener`: accepts and records every connection (and answers HTTP 200), so a test
  can assert that a refused target was never even connected to;
- `Tarpit`: accepts connections and never answers, as a hostile or wedged server would;
- `FakeMySQL`: speaks enough of the MySQL protocol to log a client in, then answers its first
  query with a LOCAL INFILE request for a file, and records everything the client sends back.
"""
from __future__ import annotations

import contextlib
import socket
import struct
import threading


class _Server:
    def __init__(self, host: str = "127.0.0.1"):
        self.sock = socket.create_server((host, 0))
        self.host, self.port = host, self.sock.getsockname()[1]
        self.connections: list[dict] = []
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        while True:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            record = {"peer": peer, "received": b""}
            with self._lock:
                self.connections.append(record)
                self._open.append(conn)
            threading.Thread(target=self._serve_safely, args=(conn, record), daemon=True).start()

    def _serve_safely(self, conn, record):
        with contextlib.suppress(OSError):
            self.serve(conn, record)

    def serve(self, conn: socket.socket, record: dict) -> None:
        raise NotImplementedError

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.connections)

    def close(self) -> None:
        # shutdown() wakes the thread blocked in accept(); a close() alone would leave the socket
        # listening (and accepting) under that thread on Linux.
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self._thread.join(5)
        with self._lock:
            for conn in self._open:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class RecordingListener(_Server):
    """Records each connection and the request it got; answers `HTTP/1.1 200` and closes."""

    def serve(self, conn, record):
        conn.settimeout(10)
        while b"\r\n\r\n" not in record["received"]:
            chunk = conn.recv(65536)
            if not chunk:
                break
            record["received"] += chunk
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        conn.close()


class Tarpit(_Server):
    """Accepts, reads whatever comes, never answers; the connection stays open until close()."""

    def serve(self, conn, record):
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                return
            record["received"] += chunk


def _packet(seq: int, payload: bytes) -> bytes:
    return struct.pack("<I", len(payload))[:3] + bytes([seq]) + payload


def _read_packet(conn: socket.socket) -> tuple[int, bytes] | None:
    header = _read_exactly(conn, 4)
    if header is None:
        return None
    length = int.from_bytes(header[:3], "little")
    payload = _read_exactly(conn, length) if length else b""
    return (header[3], payload) if payload is not None else None


def _read_exactly(conn, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


# Capabilities the fake server offers: 4.1 protocol, secure auth, plugin auth, transactions, and LOCAL_FILES.
_SERVER_CAPABILITIES = (1 | 1 << 1 | 1 << 3 | 1 << 7 | 1 << 9 | 1 << 13 | 1 << 15 | 1 << 16 | 1 << 17
                        | 1 << 19 | 1 << 21)
_OK = b"\x00\x00\x00\x02\x00\x00\x00"
LOCAL_FILES = 1 << 7


class FakeMySQL(_Server):
    """Logs any client in (no password check), then answers its first query (after the driver's own
    `SET NAMES`) with a LOCAL INFILE
    request for `wanted`. Per connection it records `client_flags` (from the login packet) and
    `received` (every byte after the request: a client that complies sends the file there)."""

    def __init__(self, wanted: str = "/etc/passwd", host: str = "127.0.0.1"):
        self.wanted = wanted
        super().__init__(host)

    def serve(self, conn, record):
        conn.settimeout(15)
        salt = b"abcdefghijklmnopqrst"
        greeting = (b"\x0a" + b"5.7.99-fake\x00" + struct.pack("<I", 7) + salt[:8] + b"\x00"
                    + struct.pack("<H", _SERVER_CAPABILITIES & 0xFFFF) + b"\x21" + struct.pack("<H", 2)
                    + struct.pack("<H", _SERVER_CAPABILITIES >> 16) + bytes([21]) + b"\x00" * 10
                    + salt[8:] + b"\x00" + b"mysql_native_password\x00")
        conn.sendall(_packet(0, greeting))
        login = _read_packet(conn)
        if login is None:
            return
        record["client_flags"] = struct.unpack("<I", login[1][:4])[0]
        conn.sendall(_packet(login[0] + 1, _OK))
        asked = False
        while True:
            packet = _read_packet(conn)
            if packet is None:
                return
            seq, payload = packet
            if asked:
                record["received"] += payload
                if payload == b"":          # a complying client ends the file with an empty packet
                    conn.sendall(_packet(seq + 1, _OK))
                    asked = False
                continue
            if payload[:1] == b"\x01":      # COM_QUIT
                return
            # PyMySQL's own `SET NAMES` reads its answer as a bare OK: ask on the first query after it.
            if payload[:1] == b"\x03" and not payload.startswith(b"\x03SET NAMES") and not record.get("asked"):
                record["asked"] = True
                asked = True
                conn.sendall(_packet(seq + 1, b"\xfb" + self.wanted.encode()))
            else:
                conn.sendall(_packet(seq + 1, _OK))
