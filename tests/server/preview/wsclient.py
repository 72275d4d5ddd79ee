# A WebSocket client for tests/server/api_preview.sh, on tests/lib/ws_client.py:
# wsclient.py HOST PORT PATH TOKEN: handshake, then a text and a 200 KB
# binary message, each of which must come back the same; prints "ok", or
# the handshake's status line and exits 1.  With a fifth argument N: hold N
# WebSockets open, then print the status line of one more, then that of
# one more again after one of the N closed.  $WS_HOST, if set, is the Host
# header sent (a preview's host form), else HOST:PORT.
import os, sys, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from ws_client import Conn, frame  # noqa: E402

host, port, path, token = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]


def handshake():
    c = Conn("http://%s:%d%s" % (host, port, path), "", "",
             {"x-daytona-preview-token": token} if token else {}, upgrade_only=False,
             host=os.environ.get("WS_HOST"))
    return c, c.status


if len(sys.argv) > 5:
    held = [handshake() for _ in range(int(sys.argv[5]))]
    bad = [h[1] for h in held if not h[1].startswith("HTTP/1.1 101")]
    if bad:
        print("held: " + bad[0])
        sys.exit(1)
    print(handshake()[1])
    held[0][0].s.close()
    for _ in range(50):  # isletd sees the close within a poll
        c2, st = handshake()
        if st.startswith("HTTP/1.1 101"):
            break
        time.sleep(0.1)
    print(st)
    sys.exit(0)

c, status = handshake()
if not status.startswith("HTTP/1.1 101"):
    print(status)
    sys.exit(1)
c.s.settimeout(20)
for op, data in ((1, b"hello through the preview"), (2, os.urandom(200000))):
    c.s.sendall(frame(op, data))
    got = c.message()
    if got != (op, data):
        print("echo differs: op %d, %d bytes back of %d" % (got[0], len(got[1]), len(data)))
        sys.exit(1)
c.s.sendall(frame(8, b""))
print("ok")
