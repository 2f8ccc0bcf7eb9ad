"""One tier of a service chain for the stitching tests: an HTTP/1.1 server with
no tracing code whose every GET /chain calls the next tier (a new connection per
call, as plain urllib does) and answers with what it got.

Usage: chain_app.py PORT DOWNSTREAM_URL [--threaded]
  GET /chain?QUERY  -> GET DOWNSTREAM_URL?QUERY, then 200 "<tier> <downstream status>"
  --threaded        ThreadingHTTPServer (one thread per connection); default one thread
Prints "ready" when listening.
"""
import http.server
import sys
import urllib.parse
import urllib.request


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    downstream = ""

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path != "/chain":
            self.send_error(404)
            return
        target = self.downstream + ("?" + url.query if url.query else "")
        with urllib.request.urlopen(target, timeout=10) as reply:
            reply.read()
            body = f"ok {reply.status}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    Handler.downstream = sys.argv[2]
    server_class = http.server.ThreadingHTTPServer if "--threaded" in sys.argv[3:] else http.server.HTTPServer
    server_class.allow_reuse_address = True
    server = server_class(("127.0.0.1", int(sys.argv[1])), Handler)
    print("ready", flush=True)
    server.serve_forever()
