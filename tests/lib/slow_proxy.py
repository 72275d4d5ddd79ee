#!/usr/bin/python3
"""A registry front that sends blobs slowly and logs each blob transfer,
for the tests of a pull called off.

    slow_proxy.py PORT_FILE UPSTREAM RATE LOG_FILE

Listens on a free loopback port (written to PORT_FILE) and passes every
request to UPSTREAM (a plain registry on loopback).  A blob's body is sent
at RATE bytes a second per transfer, in 16 KiB pieces; LOG_FILE gets a
line for each blob transfer: "start DIGEST", then "done DIGEST" when all
of it was sent or "cut DIGEST" when the client went away first, each with
the monotonic time.  A transfer lasts at most 300 s.
"""
import http.client, http.server, os, sys, threading, time

port_file, upstream, rate, log_file = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
lock = threading.Lock()
PIECE = 16 << 10


def note(word, path):
    with lock, open(log_file, "a") as f:
        f.write("%s %s %.3f\n" % (word, path.rsplit("/", 1)[-1], time.monotonic()))


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
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
        blob = "/blobs/" in self.path and r.status == 200
        if not blob:
            self.wfile.write(body)
            return
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
