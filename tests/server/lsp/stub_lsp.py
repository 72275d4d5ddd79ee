#!/usr/bin/env python3
# A language server of the least kind, for tests/server/api_lsp.sh: it is
# uploaded into a sandbox as `pylsp` and speaks LSP on stdin/stdout as the
# real one does, answering with what it was sent, so that a test sees what
# isletd handed it.  initialize: a document-symbol and a completion
# provider; didOpen/didChange: the text kept per URI; documentSymbol: one
# function named after the document's first line; completion: one item,
# the URI it was asked about; shutdown: null; exit: ends.
import json
import sys

docs = {}


def read():
    length = None
    while True:
        line = sys.stdin.buffer.readline()
        if not line:
            return None
        line = line.strip()
        if not line:
            break
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    return json.loads(sys.stdin.buffer.read(length))


def send(msg):
    body = json.dumps(msg).encode()
    sys.stdout.buffer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    sys.stdout.buffer.flush()


def answer(msg):
    method, params = msg.get("method"), msg.get("params") or {}
    doc = params.get("textDocument") or {}
    uri = doc.get("uri", "")
    if method == "initialize":
        return {"capabilities": {"documentSymbolProvider": True, "completionProvider": {}}}
    if method == "textDocument/documentSymbol":
        name = (docs.get(uri, "").splitlines() or [""])[0]
        where = {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 1}}
        return [{"name": name, "kind": 12, "location": {"uri": uri, "range": where}}]
    if method == "textDocument/completion":
        return {"isIncomplete": False, "items": [{"label": uri}]}
    return None


while True:
    m = read()
    if m is None or m.get("method") == "exit":
        sys.exit(0)
    p = m.get("params") or {}
    if m.get("method") == "textDocument/didOpen":
        docs[p["textDocument"]["uri"]] = p["textDocument"]["text"]
    elif m.get("method") == "textDocument/didChange":
        docs[p["textDocument"]["uri"]] = p["contentChanges"][-1]["text"]
    if "id" in m and "method" in m:
        send({"jsonrpc": "2.0", "id": m["id"], "result": answer(m)})
