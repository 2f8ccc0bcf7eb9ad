"""Sends GET requests at a fixed rate over keep-alive HTTP/1.1 connections, for
a bounded time: load that does not saturate the machine.

Usage: paced_client.py PORT PATH RATE SECONDS [CONNECTIONS]
Prints "sent N errors E" when done.
"""
import http.client
import sys
import threading
import time


def worker(port, path, interval, deadline, counts):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    next_at = time.monotonic()
    while time.monotonic() < deadline:
        try:
            conn.request("GET", path)
            conn.getresponse().read()
            counts[0] += 1
        except OSError:
            counts[1] += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        next_at += interval
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    conn.close()


def main():
    port, path, rate, seconds = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    connections = int(sys.argv[5]) if len(sys.argv) > 5 else 4
    deadline = time.monotonic() + seconds
    counts = [[0, 0] for _ in range(connections)]
    threads = [threading.Thread(target=worker, args=(port, path, connections / rate, deadline, counts[i]))
               for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"sent {sum(c[0] for c in counts)} errors {sum(c[1] for c in counts)}", flush=True)


if __name__ == "__main__":
    main()
