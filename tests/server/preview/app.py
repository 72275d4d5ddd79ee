# The app of tests/server/api_preview.sh, run inside a sandbox (python's
# standard library only): files under /tmp/www, POST /echo answers the
# body's length and SHA-256, /stream sends two pieces 3 s apart, /ws is a
# WebSocket echo (RFC 6455, text and binary, no extensions).  With
# "probe PORT" it says whether anything answers on that port instead.
import base64, hashlib, http.server, socket, socketserver, struct, sys, time

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class App(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def __init__(self, *a, **k):
        super().__init__(*a, directory="/tmp/www", **k)

    def log_message(self, *a):
        pass

    def body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", ""):
            out = b""
            while True:
                n = int(self.rfile.readline().strip(), 16)
                if n == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(n)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def do_POST(self):
        data = self.body()
        text = ("%d %s %s\n" % (len(data), hashlib.sha256(data).hexdigest(),
                                self.path)).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(text)))
        self.send_header("X-App-Prefix", self.headers.get("X-Forwarded-Prefix", ""))
        self.end_headers()
        self.wfile.write(text)

    def do_GET(self):
        if self.path == "/stream":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for piece in (b"first\n", b"second\n"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.flush()
                time.sleep(3)
            self.wfile.write(b"0\r\n\r\n")
            return
        if self.path == "/ws":
            return self.websocket()
        return super().do_GET()

    def websocket(self):
        key = self.headers["Sec-WebSocket-Key"]
        accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        r, w = self.rfile, self.wfile
        while True:
            head = r.read(2)
            if len(head) < 2:
                return
            op, n = head[0] & 15, head[1] & 127
            if n == 126:
                n = struct.unpack(">H", r.read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", r.read(8))[0]
            mask = r.read(4)
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(r.read(n)))
            if op == 8:
                w.write(b"\x88\x00")
                w.flush()
                return
            if n < 126:
                w.write(bytes([0x80 | op, n]) + data)
            elif n < 65536:
                w.write(bytes([0x80 | op, 126]) + struct.pack(">H", n) + data)
            else:
                w.write(bytes([0x80 | op, 127]) + struct.pack(">Q", n) + data)
            w.flush()


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


if sys.argv[1] == "probe":
    # probe PORT: whether anything answers on 127.0.0.1:PORT in here
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[2])), 2)
        print("connected")
    except OSError as e:
        print(e.__class__.__name__)
    sys.exit(0)
Server(("127.0.0.1", int(sys.argv[1])), App).serve_forever()
