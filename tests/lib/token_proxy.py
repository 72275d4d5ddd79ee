#!/usr/bin/python3
"""A registry front that wants a Bearer token, for the pull tests.

    token_proxy.py PORT_FILE UPSTREAM USER PASSWORD

Listens on a free loopback port (written to PORT_FILE).  /v2/... without
`Authorization: Bearer <token>` answers 401 with a Bearer challenge whose
realm is this server's /token; /token hands out the token only for Basic
USER:PASSWORD and scope repository:private/...:pull (anonymous callers get a
token only for other repositories).  With a good token, requests are passed
to UPSTREAM (a plain registry on loopback), redirects and all.
"""
import base64, http.client, http.server, sys, urllib.parse

port_file, upstream, user, password = sys.argv[1:5]
GOOD = base64.b64encode(f"{user}:{password}".encode()).decode()
TOKENS = {"tok-private": "private/", "tok-public": ""}


class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def send(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path == "/token":
            q = urllib.parse.parse_qs(url.query)
            scope = q.get("scope", [""])[0]
            basic = self.headers.get("Authorization", "") == "Basic " + GOOD
            if scope.startswith("repository:private/") and not basic:
                return self.send(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}')
            tok = "tok-private" if basic else "tok-public"
            return self.send(200, ('{"token":"%s"}' % tok).encode(), [("Content-Type", "application/json")])
        auth = self.headers.get("Authorization", "")
        tok = auth[7:] if auth.startswith("Bearer ") else None
        repo = url.path[4:] if url.path.startswith("/v2/") else ""
        if tok not in TOKENS or not repo.startswith(TOKENS[tok]) or \
                (repo.startswith("private/") and tok != "tok-private"):
            host = self.headers.get("Host")
            return self.send(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', [
                ("WWW-Authenticate",
                 f'Bearer realm="http://{host}/token",service="test-registry",scope="repository:{repo.split("/manifests")[0].split("/blobs")[0]}:pull"')])
        c = http.client.HTTPConnection(upstream, timeout=30)
        hdrs = {k: v for k, v in self.headers.items() if k.lower() not in ("authorization", "host")}
        c.request("GET", self.path, headers=hdrs)
        r = c.getresponse()
        body = r.read()
        self.send(r.status, body, [(k, v) for k, v in r.getheaders()
                                   if k.lower() not in ("content-length", "transfer-encoding", "connection")])


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(port_file, "w") as f:
    f.write(str(srv.server_address[1]))
srv.serve_forever()
