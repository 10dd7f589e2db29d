"""Shared plumbing of the test service providers: an HTTPS server on 127.0.0.1 (reached
as https://localhost:PORT with Mamori's own quickstart TLS certificate), request parsing,
and a record of every SAML message received (the raw XML, for xmlsec1 --verify) and of
every outcome (a JSON line, also shown on the page in <pre id="result">).

Run with Debian's Python (/usr/bin/python3), where python3-onelogin-saml2 and
python3-pysaml2 live.
"""

import base64
import html
import http.server
import json
import os
import ssl
import sys
import threading
import urllib.parse


class Recorder:
    def __init__(self, out_dir):
        self.out_dir = out_dir
        os.makedirs(out_dir, exist_ok=True)
        self.count = 0
        self.lock = threading.Lock()

    def message(self, kind, b64_or_xml, deflated=False):
        """Saves a received SAML message as XML; returns its file name."""
        with self.lock:
            self.count += 1
            n = self.count
        if isinstance(b64_or_xml, str) and b64_or_xml.lstrip().startswith("<"):
            data = b64_or_xml.encode()
        else:
            data = base64.b64decode(b64_or_xml)
            if deflated:
                import zlib
                data = zlib.decompress(data, -15)
        name = os.path.join(self.out_dir, f"{n:02d}-{kind}.xml")
        with open(name, "wb") as f:
            f.write(data)
        return name

    def outcome(self, record):
        with open(os.path.join(self.out_dir, "events.jsonl"), "a") as f:
            f.write(json.dumps(record) + "\n")


class Request:
    """What a handler needs from an HTTP request."""

    def __init__(self, handler):
        parsed = urllib.parse.urlsplit(handler.path)
        self.path = parsed.path
        self.query_string = parsed.query
        self.query = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
        self.host = handler.headers.get("Host", "localhost")
        self.form = {}
        if handler.command == "POST":
            length = int(handler.headers.get("Content-Length", "0"))
            body = handler.rfile.read(length).decode()
            self.form = dict(urllib.parse.parse_qsl(body, keep_blank_values=True))


class Response:
    def __init__(self, status=200, body="", content_type="text/html; charset=utf-8", location=None):
        self.status = status
        self.body = body
        self.content_type = content_type
        self.location = location


def redirect(url):
    return Response(302, "", location=url)


def result_page(record):
    """A page that shows an outcome as JSON (read by the browser tests)."""
    return Response(
        200,
        "<!doctype html><html><body><h1>SP</h1><pre id=\"result\">"
        + html.escape(json.dumps(record, indent=1, default=str))
        + "</pre></body></html>",
    )


def serve(routes_for, cert, key):
    """Binds 127.0.0.1:0, asks `routes_for(base_url)` for a dict path -> function(Request)
    -> Response, prints `ready <base_url>` and serves until killed."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    port = server.server_address[1]
    base = f"https://localhost:{port}"
    routes = routes_for(base)

    class Handler(http.server.BaseHTTPRequestHandler):
        def handle_any(self):
            request = Request(self)
            fn = routes.get(request.path)
            try:
                response = fn(request) if fn else Response(404, "not found", "text/plain")
            except Exception as err:  # shown to the test, which fails with it
                import traceback

                traceback.print_exc()
                response = result_page({"ok": False, "exception": repr(err)})
                response.status = 500
            self.send_response(response.status)
            if response.location:
                self.send_header("Location", response.location)
            data = response.body.encode() if isinstance(response.body, str) else response.body
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        do_GET = handle_any
        do_POST = handle_any

        def log_message(self, fmt, *args):
            sys.stderr.write("sp: " + (fmt % args) + "\n")

    server.RequestHandlerClass = Handler
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print(f"ready {base}", flush=True)
    server.serve_forever()
