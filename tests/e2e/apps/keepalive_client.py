"""Holds one keep-alive HTTP/1.1 connection open and sends requests on command.

Usage: keepalive_client.py PORT
Reads lines from stdin: "GET <path>" sends a request on the same connection
and prints "<status> <body length>"; "quit" ends. Prints "connected" first.
"""
import http.client
import sys

conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
conn.connect()
print("connected", flush=True)
for line in sys.stdin:
    words = line.split()
    if not words or words[0] == "quit":
        break
    conn.request(words[0], words[1])
    resp = conn.getresponse()
    body = resp.read()
    print(resp.status, len(body), flush=True)
conn.close()
