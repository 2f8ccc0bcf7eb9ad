"""A threaded HTTP server whose GET /orders/<id> reads the order from Redis
(Debian's python3-redis), one connection per thread: the database call
happens while the thread serves the request. Prints "ready" once listening.
Usage: orders_app.py HTTP_PORT REDIS_PORT"""
import http.server
import sys
import threading

import redis

REDIS_PORT = int(sys.argv[2])
local = threading.local()


def client():
    if not hasattr(local, "r"):
        local.r = redis.Redis(host="127.0.0.1", port=REDIS_PORT)
    return local.r


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        value = client().get("order:" + self.path.rsplit("/", 1)[-1]) or b"none"
        body = value + b"\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
print("ready", flush=True)
server.serve_forever()
