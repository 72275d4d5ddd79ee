#!/usr/bin/python3
"""A registry front that holds blob downloads, for the tests of a pull cut
short.

    hold_proxy.py PORT_FILE UPSTREAM HOLD_FILE

Listens on a free loopback port (written to PORT_FILE) and passes every
request to UPSTREAM (a plain registry on loopback).  While HOLD_FILE
exists, a request for a blob waits (at most 120 s) before it is passed on,
so a pull is certain to be under way when the test acts.
"""
import http.client, http.server, os, sys, time

port_file, upstream, hold = sys.argv[1:4]


class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        if "/blobs/" in self.path:
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
        self.wfile.write(body)



s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(port_file + ".tmp", "w") as f:
    f.write(str(s.server_address[1]))
os.rename(port_file + ".tmp", port_file)
s.serve_forever()
