#!/usr/bin/python3
"""https-sink.py - HTTPS (or plain HTTP) report sink for tests, loopback only.

usage: https-sink.py --dir D [--port P] [--host H] [--cert PEM --key PEM]
                     [--max-body BYTES]

  --dir D       received requests are saved here (created if missing)
  --port P      TCP port; 0 (the default) picks a free one
  --host H      127.0.0.1 (default) or ::1; only loopback addresses allowed
  --cert/--key  server certificate and key (PEM): HTTPS; omit both for HTTP
  --max-body N  body limit in bytes, 413 beyond (default 50 MiB)

Prints "listening PORT" on stdout once the socket accepts connections, then
one line per request: "NNNNNN METHOD TARGET STATUS LENGTH", and
"tls-error CLIENT REASON" for failed TLS handshakes. Stdout is flushed
after every line. Runs until killed.

The status depends on the path (the query string is ignored, except by
/flaky and /slow), for POST only; any other method gets 405:
  /ok 200   /created 201   /accepted 202   /bad 400   /error 500
  /redirect 302 with Location: <scheme>://<host>:<port>/ok
  /slow     sleeps ?delay=S seconds (default 30), then 200
  /flaky    500 for the first ?fail=N requests (default 2), then 200;
            counted per request target (path and query), so
            /flaky?fail=1&id=a and /flaky?fail=1&id=b count separately
  anything else 404; a body over --max-body 413 (not read; connection closed)

Every request (any method and status) is saved in D as NNNNNN.body (the
raw body bytes, after undoing chunked transfer coding) and NNNNNN.meta.json:
  {"seq": n, "path": "/ok?x=1", "method": "POST",
   "headers": {"content-type": "...", ...}, "length": n, "status": code}
"path" is the request target as sent (with the query), header names are
lower-cased (repeated headers joined with ", "), "length" is the size of
the .body file. NNNNNN counts from 000001 in the order the requests were
complete. Both files are written atomically (temporary dot-file, then
rename), .body first and .meta.json last, before the response is sent:
once the client has its answer, both files exist.
"""
import argparse
import ipaddress
import json
import os
import socket
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATUS = {"/ok": 200, "/created": 201, "/accepted": 202, "/bad": 400,
          "/error": 500}

_out_lock = threading.Lock()


def say(line):
    with _out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


class Sink(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True

    def __init__(self, args):
        host = args.host
        if not ipaddress.ip_address(host).is_loopback:
            raise SystemExit(f"https-sink: {host} is not a loopback address")
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__((host, args.port), Handler)
        self.dir = args.dir
        self.max_body = args.max_body
        self.ssl_ctx = None
        if args.cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(args.cert, args.key)
            self.ssl_ctx = ctx
        self.scheme = "https" if self.ssl_ctx else "http"
        self.lock = threading.Lock()
        self.seq = 0
        self.flaky = {}

    def server_bind(self):
        # HTTPServer.server_bind would call getfqdn(): no name lookups.
        ThreadingHTTPServer.server_bind(self)
        self.server_name = self.server_address[0]
        self.server_port = self.server_address[1]

    def finish_request(self, request, client_address):
        # The TLS handshake runs here, in the request's own thread, so a
        # slow or failing client never blocks the accept loop.
        if self.ssl_ctx is None:
            self.RequestHandlerClass(request, client_address, self)
            return
        request.settimeout(10)
        try:
            conn = self.ssl_ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            say(f"tls-error {client_address[0]}:{client_address[1]} {e}")
            request.close()
            return
        try:
            self.RequestHandlerClass(conn, client_address, self)
        finally:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()

    def next_seq(self):
        with self.lock:
            self.seq += 1
            return self.seq

    def flaky_count(self, target):
        with self.lock:
            n = self.flaky.get(target, 0) + 1
            self.flaky[target] = n
            return n

    def save(self, method, target, headers, body, status):
        seq = self.next_seq()
        name = f"{seq:06d}"
        meta = {"seq": seq, "path": target, "method": method,
                "headers": headers, "length": len(body), "status": status}
        for suffix, data in ((".body", body),
                             (".meta.json",
                              (json.dumps(meta, indent=1) + "\n").encode())):
            tmp = os.path.join(self.dir, f".{name}{suffix}.tmp")
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, os.path.join(self.dir, name + suffix))
        say(f"{name} {method} {target} {status} {len(body)}")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "https-sink"
    sys_version = ""
    timeout = 60                   # idle keep-alive connections
    disable_nagle_algorithm = True

    def log_message(self, format, *args):  # noqa: A002 - base class name
        pass                       # one line per request comes from save()

    def header_dict(self):
        h = {}
        for k, v in self.headers.items():
            k = k.lower()
            h[k] = h[k] + ", " + v if k in h else v
        return h

    def declared_length(self):
        try:
            return int(self.headers.get("Content-Length", "0"))
        except ValueError:
            return -1

    def handle_expect_100(self):
        # Refuse an oversized body before the client sends it.
        if self.declared_length() > self.server.max_body:
            self.too_large()
            return False
        return super().handle_expect_100()

    def too_large(self):
        self.close_connection = True
        self.server.save(self.command, self.path, self.header_dict(), b"", 413)
        self.answer(413, close=True)

    def read_body(self):
        """Body bytes, or None when over the limit (413 already sent)."""
        limit = self.server.max_body
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts, total = [], 0
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                        pass       # trailers
                    return b"".join(parts)
                total += size
                if total > limit:
                    self.too_large()
                    return None
                parts.append(self.rfile.read(size))
                self.rfile.readline(8)  # CRLF after the chunk
        n = self.declared_length()
        if n < 0:
            self.close_connection = True
            return b""
        if n > limit:
            self.too_large()
            return None
        return self.rfile.read(n)

    def answer(self, status, location=None, close=False):
        body = f"{status} {self.responses.get(status, ('',))[0]}\n".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        if location:
            self.send_header("Location", location)
        if status == 405:
            self.send_header("Allow", "POST")
        if close:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def route(self):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        if self.command != "POST":
            return 405, None, 0
        if url.path in STATUS:
            return STATUS[url.path], None, 0
        if url.path == "/redirect":
            host = self.server.server_name
            if ":" in host:
                host = f"[{host}]"
            return 302, f"{self.server.scheme}://{host}:{self.server.server_port}/ok", 0
        if url.path == "/slow":
            return 200, None, float(query.get("delay", ["30"])[0])
        if url.path == "/flaky":
            fails = int(query.get("fail", ["2"])[0])
            return (500 if self.server.flaky_count(self.path) <= fails else 200), None, 0
        return 404, None, 0

    def handle_any(self):
        body = self.read_body()
        if body is None:
            return
        try:
            status, location, delay = self.route()
        except ValueError:         # bad ?fail= or ?delay=
            status, location, delay = 400, None, 0
        self.server.save(self.command, self.path, self.header_dict(), body, status)
        if delay:
            time.sleep(delay)
        self.answer(status, location)

    def __getattr__(self, name):
        # do_POST, do_GET, do_PUT, ...: every method but HEAD (no body in
        # the answer) goes through handle_any.
        if name.startswith("do_"):
            return self.handle_any
        raise AttributeError(name)

    def do_HEAD(self):
        self.read_body()
        self.server.save(self.command, self.path, self.header_dict(), b"", 405)
        self.send_response(405)
        self.send_header("Allow", "POST")
        self.send_header("Content-Length", "0")
        self.end_headers()


def main():
    p = argparse.ArgumentParser(description="HTTPS report sink for tests")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--dir", required=True)
    p.add_argument("--max-body", type=int, default=50 * 1024 * 1024)
    args = p.parse_args()
    if bool(args.cert) != bool(args.key):
        p.error("--cert and --key go together")
    os.makedirs(args.dir, exist_ok=True)
    server = Sink(args)
    say(f"listening {server.server_port}")
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
