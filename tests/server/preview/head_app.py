# The app of tests/server/api_preview_host.sh, run inside a sandbox: any GET
# is answered with what reached it, as JSON (the path, the Host, the
# Cookie and X-Forwarded-Prefix headers), with a cookie of its own.
import http.server, json, sys


class App(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        body = json.dumps({"path": self.path, "host": self.headers.get("Host"),
                           "cookie": self.headers.get("Cookie"),
                           "prefix": self.headers.get("X-Forwarded-Prefix")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Set-Cookie", "app=1; Path=/")
        self.end_headers()
        self.wfile.write(body)


http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), App).serve_forever()
