"""A raw-socket HTTP/1.1 server whose answer is chosen by the request path, for
end-to-end tests of pairing: a span with the wrong response shows at once.

  GET /s/<status>/<anything>[?b=<bytes>]  answers <status> with a body of <bytes> (default 64)
      &h=<bytes>                           ... and one header "X-Big" of that many bytes
      &hn=<count>                          ... and that many headers "X-N<i>: <i>"
  anything else                            404

Every response carries "X-Path: <path>". Connections are keep-alive and each is
served by a thread that reads the way --read-size/--peek say. The main thread
blocks in accept(), so a sensor started later finds it there.

Usage: status_server.py PORT [--read-size N] [--peek N]
Prints "ready" once listening.
"""
import argparse
import re
import socket
import threading
import urllib.parse

REASONS = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 400: "Bad Request",
           404: "Not Found", 409: "Conflict", 418: "I'm a teapot", 500: "Internal Server Error",
           503: "Service Unavailable"}
PATH = re.compile(r"^/s/(\d{3})/")


def answer(target):
    url = urllib.parse.urlsplit(target.decode(errors="replace"))
    query = {k: int(v[0]) for k, v in urllib.parse.parse_qs(url.query).items() if v[0].isdigit()}
    m = PATH.match(url.path)
    status = int(m.group(1)) if m else 404
    body = b"" if status == 204 else b"x" * query.get("b", 64)
    extra = "".join(f"X-N{i}: {i}\r\n" for i in range(query.get("hn", 0)))
    if "h" in query:
        extra += "X-Big: " + "h" * query["h"] + "\r\n"
    head = (f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}\r\n"
            f"X-Path: {url.path}\r\n{extra}"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    return head + body


def serve(conn, read_size, peek):
    buf = b""
    with conn:
        while True:
            if peek:
                try:
                    if not conn.recv(peek, socket.MSG_PEEK):
                        return
                except OSError:
                    return
            try:
                chunk = conn.recv(read_size)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            while b"\r\n\r\n" in buf:
                head, _, rest = buf.partition(b"\r\n\r\n")
                lines = head.split(b"\r\n")
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip() or 0)
                if len(rest) < length:
                    break
                buf = rest[length:]
                parts = lines[0].split(b" ")
                conn.sendall(answer(parts[1] if len(parts) > 1 else b"/"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--read-size", type=int, default=65536)
    ap.add_argument("--peek", type=int, default=0)
    args = ap.parse_args()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", args.port))
    srv.listen(256)
    print("ready", flush=True)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn, args.read_size, args.peek), daemon=True).start()


if __name__ == "__main__":
    main()
