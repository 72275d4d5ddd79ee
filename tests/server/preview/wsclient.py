# A WebSocket client for tests/server/api_preview.sh (standard library):
# wsclient.py HOST PORT PATH TOKEN: handshake, then a text and a 200 KB
# binary message, each of which must come back the same; prints "ok", or
# the handshake's status line and exits 1.  With a fifth argument N: hold N
# WebSockets open, then print the status line of one more, then that of
# one more again after one of the N closed.  $WS_HOST, if set, is the Host
# header sent (a preview's host form), else HOST:PORT.
import base64, os, socket, struct, sys, time

host, port, path, token = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]


def handshake():
    s = socket.create_connection((host, port), timeout=20)
    key = base64.b64encode(os.urandom(16)).decode()
    req = ("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
           % (path, os.environ.get("WS_HOST") or "%s:%d" % (host, port), key))
    if token:
        req += "x-daytona-preview-token: %s\r\n" % token
    s.sendall((req + "\r\n").encode())
    f = s.makefile("rb")
    status = f.readline().decode().strip()
    while f.readline() not in (b"\r\n", b""):
        pass
    return s, f, status


if len(sys.argv) > 5:
    held = [handshake() for _ in range(int(sys.argv[5]))]
    bad = [h[2] for h in held if not h[2].startswith("HTTP/1.1 101")]
    if bad:
        print("held: " + bad[0])
        sys.exit(1)
    print(handshake()[2])
    held[0][1].close()  # the socket closes with its last reference
    held[0][0].close()
    for _ in range(50):  # isletd sees the close within a poll
        s2, f2, st = handshake()
        if st.startswith("HTTP/1.1 101"):
            break
        time.sleep(0.1)
    print(st)
    sys.exit(0)

s, f, status = handshake()
if not status.startswith("HTTP/1.1 101"):
    print(status)
    sys.exit(1)


def send(op, data):
    mask = os.urandom(4)
    n = len(data)
    head = bytes([0x80 | op])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", n)
    s.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))


def recv():
    h = f.read(2)
    n = h[1] & 127
    if n == 126:
        n = struct.unpack(">H", f.read(2))[0]
    elif n == 127:
        n = struct.unpack(">Q", f.read(8))[0]
    return h[0] & 15, f.read(n)


for op, data in ((1, b"hello through the preview"), (2, os.urandom(200000))):
    send(op, data)
    got = recv()
    if got != (op, data):
        print("echo differs: op %d, %d bytes back of %d" % (got[0], len(got[1]), len(data)))
        sys.exit(1)
send(8, b"")
print("ok")
