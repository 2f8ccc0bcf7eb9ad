"""The services of the cross-node tests, plain HTTP/1.1 with no tracing code.

Usage:
  cross_node_app.py leaf HOST PORT NAME
      every GET/POST answers "NAME PATH sha256(body)" and 3,000 bytes of filler
      (several segments), so the caller can tell its bytes arrived intact.
  cross_node_app.py front HOST PORT NEW_URL KEEP_HOST KEEP_PORT
      GET /front?n=N calls NEW_URL?n=N on a new connection (urllib), then
      POSTs 10 KB to http://KEEP_HOST:KEEP_PORT/keep?n=N over one kept-alive
      connection shared by all requests (opened at the first call), and
      answers with both replies' status and body. GET /reset closes that
      connection (the next call opens a new one).
Prints "ready" when listening; ThreadingHTTPServer (a thread per connection).
"""
import hashlib
import http.client
import http.server
import sys
import threading
import urllib.parse
import urllib.request

FILLER = b"".join(hashlib.sha256(str(i).encode()).hexdigest().encode() for i in range(94))[:3000]
REQUEST_BODY = b"".join(hashlib.sha256(b"req" + str(i).encode()).hexdigest().encode() for i in range(320))


class Leaf(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    name = "leaf"

    def log_message(self, fmt, *args):
        pass

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        text = f"{self.name} {self.path} {hashlib.sha256(body).hexdigest()}\n".encode() + FILLER
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    do_GET = answer
    do_POST = answer


class Front(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    new_url = ""
    keep_at = ("", 0)
    pool_lock = threading.Lock()
    pooled = None

    def log_message(self, fmt, *args):
        pass

    def keep_call(self, query):
        cls = type(self)
        with cls.pool_lock:  # one kept-alive connection, one request at a time on it
            if cls.pooled is None:
                cls.pooled = http.client.HTTPConnection(*cls.keep_at, timeout=10)
            cls.pooled.request("POST", "/keep?" + query, body=REQUEST_BODY,
                               headers={"Content-Type": "application/octet-stream"})
            reply = cls.pooled.getresponse()
            return reply.status, reply.read()

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path == "/reset":
            with type(self).pool_lock:
                if type(self).pooled is not None:
                    type(self).pooled.close()
                    type(self).pooled = None
            self.reply(b"reset\n")
            return
        with urllib.request.urlopen(f"{self.new_url}?{url.query}", timeout=10) as r:
            new_status, new_body = r.status, r.read()
        keep_status, keep_body = self.keep_call(url.query)
        self.reply(f"{new_status}\n".encode() + new_body + f"\n{keep_status}\n".encode() + keep_body)

    def reply(self, body):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main():
    role, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if role == "leaf":
        Leaf.name = sys.argv[4]
        handler = Leaf
    else:
        Front.new_url = sys.argv[4]
        Front.keep_at = (sys.argv[5], int(sys.argv[6]))
        handler = Front
    http.server.ThreadingHTTPServer.allow_reuse_address = True
    server = http.server.ThreadingHTTPServer((host, port), handler)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
