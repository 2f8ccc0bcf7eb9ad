"""Opens N keep-alive connections to 127.0.0.1:PORT, sends one GET on each (so
the sensor tracks them as HTTP), reads the answers, keeps them open, prints
"ready N", and holds them until stdin closes.
Usage: idle_conns.py PORT PATH N"""
import resource
import selectors
import socket
import sys


def main():
    port, path, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, n + 256)), hard))
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    conns = []
    sel = selectors.DefaultSelector()
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(request)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        conns.append(s)
    answered = 0
    while answered < n:
        events = sel.select(timeout=10)
        if not events:
            break
        for key, _ in events:
            if key.fileobj.recv(65536):
                sel.unregister(key.fileobj)
                answered += 1
    print(f"ready {answered}", flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
