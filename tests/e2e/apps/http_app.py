"""A small HTTP/1.1 application server on Python's http.server, for end-to-end tests.

Routes:
  GET  /hello            200, 12-byte text body
  GET  /users/<id>       200, JSON body
  POST /echo             200, body = request body
  GET  /chunked          200, chunked body of 3 chunks (total 30 bytes)
  GET  /slow?ms=N        200 after N milliseconds
  GET  /error            500
  anything else          404
Usage: http_app.py PORT [HOST] [--tls CERT KEY]  (binds HOST, default 127.0.0.1; "::" is
dual-stack; --tls serves HTTPS through the ssl module (OpenSSL); prints "ready" when listening)
"""
import http.server
import socket
import socketserver
import sys
import time
import urllib.parse


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive

    def log_message(self, fmt, *args):
        pass

    def _send(self, status, body, content_type="text/plain"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path == "/hello":
            self._send(200, b"hello world\n")
        elif url.path.startswith("/users/"):
            self._send(200, b'{"id": "%s"}' % url.path[7:].encode(), "application/json")
        elif url.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"0123456789",) * 3:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        elif url.path == "/slow":
            ms = int(urllib.parse.parse_qs(url.query).get("ms", ["100"])[0])
            time.sleep(ms / 1000.0)
            self._send(200, b"slow\n")
        elif url.path == "/error":
            self._send(500, b"boom\n")
        else:
            self._send(404, b"not found\n")

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        if urllib.parse.urlparse(self.path).path == "/echo":
            self._send(200, body, "application/octet-stream")
        else:
            self._send(404, b"not found\n")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Server6(Server):
    address_family = socket.AF_INET6

    def server_bind(self):
        # Dual-stack: IPv4 clients arrive as IPv4-mapped IPv6 addresses.
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


if __name__ == "__main__":
    args = sys.argv[1:]
    tls = None
    if "--tls" in args:
        at = args.index("--tls")
        tls = args[at + 1:at + 3]
        del args[at:at + 3]
    host = args[1] if len(args) > 1 else "127.0.0.1"
    server = (Server6 if ":" in host else Server)((host, int(args[0])), Handler)
    if tls:
        import ssl
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls[0], tls[1])
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print("ready", flush=True)
    server.serve_forever()
