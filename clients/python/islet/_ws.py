"""The little of RFC 6455 the interpreter's socket needs, with the standard
library only: one client connection that sends text messages and reads
text messages until the server closes.  Client frames are masked, as the
RFC requires; a ping is answered; fragments are joined."""
import base64
import hashlib
import os
import socket
import ssl
import struct
import time
import urllib.parse

from .errors import IsletConnectionError

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MESSAGE_MAX = 64 << 20  # a message from the server past this is refused
OP_CONT, OP_TEXT, OP_BIN, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


class Closed(Exception):
    """The server closed the connection: its close code and reason."""

    def __init__(self, code, reason):
        super().__init__("closed %s: %s" % (code, reason))
        self.code, self.reason = code, reason


class WebSocket:
    def __init__(self, url, headers, timeout):
        u = urllib.parse.urlsplit(url)
        tls = u.scheme in ("https", "wss")
        port = u.port or (443 if tls else 80)
        self.deadline = time.monotonic() + timeout
        try:
            sock = socket.create_connection((u.hostname, port), timeout=timeout)
            if tls:
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=u.hostname)
        except OSError as e:
            raise IsletConnectionError("cannot reach %s: %s" % (u.netloc, e)) from None
        self.sock, self.buf = sock, b""
        key = base64.b64encode(os.urandom(16))
        target = u.path + ("?" + u.query if u.query else "")
        lines = ["GET %s HTTP/1.1" % target, "Host: %s" % u.netloc, "Upgrade: websocket",
                 "Connection: Upgrade", "Sec-WebSocket-Key: %s" % key.decode(),
                 "Sec-WebSocket-Version: 13"]
        lines += ["%s: %s" % kv for kv in headers.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = self._until(b"\r\n\r\n", 65536)
        status_line, _, rest = head.partition(b"\r\n")
        parts = status_line.split(b" ", 2)
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        if status != 101:
            self.close_now()
            raise UpgradeRefused(status, self._body_after(rest))
        want = base64.b64encode(hashlib.sha1(key + GUID).digest())
        if b"sec-websocket-accept: " + want.lower() not in rest.lower():
            self.close_now()
            raise IsletConnectionError("the server's WebSocket answer has no matching accept key")

    def _body_after(self, rest):
        """A refusal's body (isletd says why in JSON), as far as it came."""
        length = 0
        for line in rest.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length" and value.strip().isdigit():
                length = min(int(value.strip()), 65536)
        try:
            while len(self.buf) < length:
                self._fill()
        except (OSError, Closed, IsletConnectionError):
            pass
        return self.buf[:length]

    def _fill(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("timed out")
        self.sock.settimeout(left)
        chunk = self.sock.recv(65536)
        if not chunk:
            raise IsletConnectionError("the server closed the connection without a close frame")
        self.buf += chunk

    def _until(self, mark, limit):
        while mark not in self.buf:
            if len(self.buf) > limit:
                raise IsletConnectionError("the server's WebSocket answer is too long")
            self._fill()
        head, _, self.buf = self.buf.partition(mark)
        return head

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _send(self, op, payload):
        head = bytes([0x80 | op])
        n = len(payload)
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 1 << 16:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + masked)

    def send_text(self, text):
        self._send(OP_TEXT, text.encode())

    def recv_text(self):
        """The next text message; Closed when the server closes."""
        message, first = b"", None
        while True:
            b0, b1 = self._take(2)
            op, fin, n = b0 & 0x0F, b0 & 0x80, b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._take(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._take(8))[0]
            if b1 & 0x80 or n > MESSAGE_MAX or len(message) + n > MESSAGE_MAX:
                self.close_now()
                raise IsletConnectionError("the server sent a masked or oversized frame")
            payload = self._take(n)
            if op == OP_CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                self.close_now()
                raise Closed(code, payload[2:].decode("utf-8", "replace"))
            if op == OP_PING:
                self._send(OP_PONG, payload)
                continue
            if op == OP_PONG:
                continue
            if op != OP_CONT:
                first = op
            message += payload
            if fin:
                if first == OP_TEXT:
                    return message.decode("utf-8", "replace")
                message, first = b"", None  # a binary message: not the interpreter's

    def close_now(self):
        try:
            self.sock.close()
        except OSError:
            pass


class UpgradeRefused(Exception):
    def __init__(self, status, body):
        super().__init__("the upgrade was refused with %s" % status)
        self.status, self.body = status, body
