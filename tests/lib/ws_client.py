#!/usr/bin/env python3
"""A small WebSocket client for the server tests (RFC 6455, client side:
masked frames), driven by commands on argv:

  ws_client.py URL KEY [PROTOCOL] -- STEP...

Steps, in order:
  send:TEXT     a binary message with TEXT (\\n, \\x03 escapes as Python's)
  sendtext:@F   a text message with the bytes of file F (sent as far as the
                server takes them: a refusal is read by the next step)
  texts:S       print every text message until the server's close, S seconds
                at most
  expect:TEXT   read messages until their bytes hold TEXT (15 s at most)
  text          print the next text message (a control message) and go on
  sleep:S       read nothing for S seconds (the server's sends then block)
  drain:S       read and drop everything for S seconds; print the byte count
  close         send a close and wait for the server's

It prints the 101's Sec-WebSocket-Protocol as "protocol=...", each text
message asked for as "text=...", and the close it receives as
"close=CODE REASON".  Exit 0 when every step passed, 1 otherwise."""
import base64
import os
import socket
import struct
import sys
import time
import urllib.parse


def frame(op, payload):
    mask = os.urandom(4)
    n = len(payload)
    head = bytes([0x80 | op])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", n)
    # as one big number: a message of megabytes is masked at once
    m = (mask * (n // 4 + 1))[:n]
    body = (int.from_bytes(payload, "big") ^ int.from_bytes(m, "big")).to_bytes(n, "big")
    return head + mask + body


class Conn:
    """One WebSocket: the handshake with key as a bearer token (if any),
    the headers given and host as its Host (else the URL's).  An answer other than 101 ends the program, or with
    upgrade_only=False is kept in status for the caller to judge."""

    def __init__(self, url, key, protocol, headers=None, upgrade_only=True, host=None):
        u = urllib.parse.urlsplit(url)
        self.s = socket.create_connection((u.hostname, u.port), timeout=15)
        path = u.path + ("?" + u.query if u.query else "")
        req = (f"GET {path} HTTP/1.1\r\nHost: {host or u.netloc}\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
               f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n")
        if key:
            req += f"Authorization: Bearer {key}\r\n"
        for k, v in (headers or {}).items():
            req += f"{k}: {v}\r\n"
        if protocol:
            req += f"Sec-WebSocket-Protocol: {protocol}\r\n"
        self.s.sendall((req + "\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            got = self.s.recv(4096)
            if not got:
                sys.exit("the server closed before its answer")
            self.buf += got
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode(errors="replace").split("\r\n")
        self.status = lines[0]
        if " 101 " not in lines[0] + " " and not upgrade_only:
            return
        if " 101 " not in lines[0] + " ":
            print("status=" + lines[0])
            sys.exit(1)
        for line in lines[1:]:
            k, _, v = line.partition(":")
            if k.strip().lower() == "sec-websocket-protocol":
                print("protocol=" + v.strip())

    def recv_exact(self, n):
        while len(self.buf) < n:
            got = self.s.recv(65536)
            if not got:
                raise EOFError
            self.buf += got
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def message(self):
        """(opcode, payload) of the next frame."""
        b0, b1 = self.recv_exact(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack(">H", self.recv_exact(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self.recv_exact(8))[0]
        return b0 & 0x0F, self.recv_exact(n)


def main():
    sep = sys.argv.index("--")
    url, key = sys.argv[1], sys.argv[2]
    protocol = sys.argv[3] if sep > 3 else ""
    c = Conn(url, key, protocol)
    seen = b""
    for step in sys.argv[sep + 1:]:
        verb, _, arg = step.partition(":")
        if verb == "send":
            c.s.sendall(frame(2, arg.encode().decode("unicode_escape").encode("latin-1")))
        elif verb in ("expect", "text"):
            want = arg.encode()
            end = time.monotonic() + 15
            while True:
                if time.monotonic() > end:
                    print(f"not seen within 15 s: {arg!r}; last bytes {seen[-300:]!r}")
                    return 1
                c.s.settimeout(max(0.1, end - time.monotonic()))
                try:
                    op, data = c.message()
                except (EOFError, socket.timeout):
                    print(f"ended before {step!r}; last bytes {seen[-300:]!r}")
                    return 1
                if op == 8:
                    code = struct.unpack(">H", data[:2])[0] if len(data) >= 2 else 1005
                    print(f"close={code} {data[2:].decode(errors='replace')}")
                    if verb == "expect":
                        print(f"closed before {arg!r}; last bytes {seen[-300:]!r}")
                        return 1
                    return 0
                if verb == "text" and op == 1:
                    print("text=" + data.decode(errors="replace"))
                    break
                seen = (seen + data)[-65536:]
                if verb == "expect" and want in seen:
                    seen = b""
                    break
        elif verb == "sendtext":
            try:
                c.s.sendall(frame(1, open(arg[1:], "rb").read()))
            except OSError:
                pass
        elif verb == "texts":
            end = time.monotonic() + float(arg)
            while True:
                if time.monotonic() > end:
                    print(f"no close within {arg} s")
                    return 1
                c.s.settimeout(max(0.1, end - time.monotonic()))
                try:
                    op, data = c.message()
                except (EOFError, OSError):
                    print("close=none")
                    return 1
                if op == 1:
                    print("text=" + data.decode(errors="replace"))
                elif op == 8:
                    code = struct.unpack(">H", data[:2])[0] if len(data) >= 2 else 1005
                    print(f"close={code} {data[2:].decode(errors='replace')}")
                    break
        elif verb == "sleep":
            time.sleep(float(arg))
        elif verb == "drain":
            total, end = 0, time.monotonic() + float(arg)
            while time.monotonic() < end:
                c.s.settimeout(max(0.05, end - time.monotonic()))
                try:
                    got = c.s.recv(1 << 20)
                except socket.timeout:
                    continue
                except OSError:
                    break
                if not got:
                    break
                total += len(got)
            print(f"drained={total}")
        elif verb == "close":
            c.s.sendall(frame(8, struct.pack(">H", 1000)))
            c.s.settimeout(5)
            try:
                while True:
                    op, data = c.message()
                    if op == 8:
                        code = struct.unpack(">H", data[:2])[0] if len(data) >= 2 else 1005
                        print(f"close={code} {data[2:].decode(errors='replace')}")
                        break
            except (EOFError, OSError):
                pass
        else:
            print("unknown step " + step)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
