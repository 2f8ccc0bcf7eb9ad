"""Python redis clients (Debian's python3-redis) doing what the end-to-end
tests trace. Usage: redis_client.py PORT MODE

  pipeline  database 2, a pipeline of three commands, then a MULTI/EXEC
            transaction of two
  pubsub    subscribes to one channel, receives two messages another
            connection publishes, unsubscribes
  pool      opens a connection, prints "connected", waits for a line on
            stdin (the sensor starts meanwhile), then runs three commands on
            the same connection and prints "done"
"""
import sys
import time

import redis


def pipeline(port):
    r = redis.Redis(host="127.0.0.1", port=port, db=2)
    p = r.pipeline(transaction=False)
    p.set("order:1", "s3cr3t-value")
    p.get("order:1")
    p.incr("visits")
    p.execute()
    t = r.pipeline(transaction=True)
    t.incr("visits")
    t.expire("visits", 60)
    t.execute()
    r.close()


def pubsub(port):
    sub = redis.Redis(host="127.0.0.1", port=port)
    ps = sub.pubsub()
    ps.subscribe("news")
    assert ps.get_message(timeout=5)["type"] == "subscribe"
    pub = redis.Redis(host="127.0.0.1", port=port)
    for text in ("first", "second"):
        pub.publish("news", text)
    got = 0
    deadline = time.monotonic() + 5
    while got < 2 and time.monotonic() < deadline:
        m = ps.get_message(timeout=1)
        if m and m["type"] == "message":
            got += 1
    assert got == 2
    ps.unsubscribe("news")
    ps.get_message(timeout=5)
    ps.close()
    pub.close()


def pool(port):
    r = redis.Redis(host="127.0.0.1", port=port, single_connection_client=True)
    r.ping()
    print("connected", flush=True)
    sys.stdin.readline()
    r.set("pooled", "1")
    r.get("pooled")
    r.delete("pooled")
    print("done", flush=True)
    r.close()


if __name__ == "__main__":
    {"pipeline": pipeline, "pubsub": pubsub, "pool": pool}[sys.argv[2]](int(sys.argv[1]))
