#!/usr/bin/python3
"""A registry front that holds or slows blob downloads, for the tests of a
pull cut short or called off.

    hold_proxy.py PORT_FILE UPSTREAM HOLD_FILE [RATE LOG_FILE]

Listens on a free loopback port (written to PORT_FILE) and passes every
request to UPSTREAM (a plain registry on loopback).  While HOLD_FILE
exists, a request for a blob waits (at most 120 s) before it is passed on,
so a pull is certain to be under way when the test acts.  With RATE, a
blob's body is sent at RATE bytes a second per transfer, in 16 KiB pieces,
and LOG_FILE gets a line for each blob transfer: "start DIGEST", then
"done DIGEST" when all of it was sent or "cut DIGEST" when the client went
away first, each with the monotonic time; such a transfer lasts at most
300 s.
"""
import http.client, http.server, os, sys, threading, time

port_file, upstream, hold = sys.argv[1:4]
rate = int(sys.argv[4]) if len(sys.argv) > 4 else 0
log_file = sys.argv[5] if len(sys.argv) > 5 else None
lock = threading.Lock()
PIECE = 16 << 10


def note(word, path):
    with lock, open(log_file, "a") as f:
        f.write("%s %s %.3f\n" % (word, path.rsplit("/", 1)[-1], time.monotonic()))


class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        blob = "/blobs/" in self.path
        if blob:
            until = time.monotonic() + 120
            while os.path.exists(hold) and time.monotonic() < until:
                time.sleep(0.05)
        c = http.client.HTTPConnection(upstream, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
        c.request("GET", self.path, headers=headers)
        r = c.getresponse()
        body = r.read()
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not (rate and blob and r.status == 200):
            self.wfile.write(body)
            return
        self.send_slowly(body)

    def send_slowly(self, body):
        note("start", self.path)
        until = time.monotonic() + 300
        try:
            for off in range(0, len(body), PIECE):
                if time.monotonic() > until:
                    raise BrokenPipeError
                self.wfile.write(body[off:off + PIECE])
                self.wfile.flush()
                time.sleep(PIECE / rate)
        except (BrokenPipeError, ConnectionResetError):
            note("cut", self.path)
            self.close_connection = True
            return
        note("done", self.path)


s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
s.daemon_threads = True
with open(port_file + ".tmp", "w") as f:
    f.write(str(s.server_address[1]))
os.rename(port_file + ".tmp", port_file)
s.serve_forever()
