"""Keep-alive HTTP/1.1 load whose every request names the status it expects:
GET /s/<status>/<connection>-<n>?b=<bytes>, statuses in turn from a fixed list.
Stops after COUNT requests per connection or SECONDS, whichever comes first.

Usage: status_load.py PORT SECONDS COUNT CONNECTIONS
Prints "sent N wrong W" when done (W: answers whose status was not the one asked).
"""
import concurrent.futures
import http.client
import sys
import time

STATUSES = (200, 201, 202, 404, 409, 418, 500, 503)


def connection(port, index, count, deadline):
    """Requests on one keep-alive connection: (sent, wrong)."""
    sent = wrong = 0
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for n in range(count):
        if time.monotonic() >= deadline:
            break
        status = STATUSES[n % len(STATUSES)]
        conn.request("GET", f"/s/{status}/{index}-{n}?b={1000 + 37 * (n % 50)}")
        resp = conn.getresponse()
        resp.read()
        sent += 1
        wrong += resp.status != status
    conn.close()
    return sent, wrong


def main():
    port, seconds, count, connections = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    deadline = time.monotonic() + seconds
    with concurrent.futures.ThreadPoolExecutor(connections) as pool:
        results = list(pool.map(lambda i: connection(port, i, count, deadline), range(connections)))
    print(f"sent {sum(r[0] for r in results)} wrong {sum(r[1] for r in results)}", flush=True)


if __name__ == "__main__":
    main()
