"""Spans that are never wrong: a response is paired with its own request or the
exchange is left out and counted. Servers written for the test answer the
status the request path names (/s/<status>/...), so a wrong pair shows.

Cases: a sensor stalled under load (SIGSTOP/SIGCONT), with shedding off (the
ring buffer overflows) and on (the kernel sheds whole connections instead), a
server already blocked in accept() when the sensor starts, and 1,000 requests
pipelined in one write to nginx."""
import os
import re
import signal
import socket
import time

from conftest import HERE, PYTHON, attr, free_port, read_line, start_nginx, wait_for_port

SERVER, CLIENT = 2, 3
STATUS_PATH = re.compile(r"^/s/(\d{3})/")
ERROR = 2  # OTLP status code


def start_status_server(procs, *args):
    port = free_port()
    proc = procs.start([PYTHON, str(HERE / "apps" / "status_server.py"), str(port), *args], "status_server")
    assert read_line(proc) == "ready"
    wait_for_port(port)
    return port, proc


def status_spans(sink):
    return [s for s in sink.spans() if STATUS_PATH.match(attr(s, "url.path") or "")]


def assert_every_span_right(spans, max_seconds=1.0, stats=None):
    """Each span carries the status its path asked for, no false error, a sane duration.
    `stats`: the sensor's counters, shown with a failure (what was lost, and where)."""
    losses = {k: v for k, v in (stats or {}).items()
              if v and any(w in k for w in ("drop", "lost", "loss", "gap", "orphan", "unpaired", "shed", "resync"))}
    for s in spans:
        path = attr(s, "url.path")
        wanted = int(STATUS_PATH.match(path).group(1))
        assert attr(s, "http.response.status_code") == wanted, (path, s, losses)
        assert (s["end"] - s["start"]) / 1e9 < max_seconds, (path, "latency of another exchange", s)
        if wanted < 500 and s["kind"] == SERVER:
            assert s["status_code"] != ERROR, s


def stall_under_load(sink, sensor_factory, procs, shed):
    """A sensor with a small ring buffer, stopped for 3 s of a 10 s keep-alive
    load: (requests sent, the sensor's stats, the status spans exported)."""
    port, _ = start_status_server(procs)
    sensor = sensor_factory(sink, extra=["--ringbuf-size", "262144", "--shed", shed])
    load = procs.start([PYTHON, str(HERE / "apps" / "status_load.py"), str(port), "10", "100000", "4"],
                       "status_load")
    time.sleep(2.0)
    os.kill(sensor.proc.pid, signal.SIGSTOP)
    try:
        time.sleep(3.0)
    finally:
        os.kill(sensor.proc.pid, signal.SIGCONT)
    summary = read_line(load, timeout=30)
    sent, wrong = map(int, re.match(r"sent (\d+) wrong (\d+)", summary).groups())
    assert wrong == 0 and sent > 1000, summary

    sensor.wait_stats(lambda st: st.get("spans_created", 0) > 0, timeout=10)
    time.sleep(2.0)  # let the last batches through
    return sent, sensor.stats(), status_spans(sink)


def test_stalled_sensor_leaves_exchanges_out_but_never_pairs_wrong(sink, sensor_factory, procs):
    # Shedding off: the stall overflows the ring buffer and events are lost at random.
    sent, stats, spans = stall_under_load(sink, sensor_factory, procs, "off")
    summary = f"sent {sent}"
    assert stats.get("kernel_ringbuf_drops", 0) > 0, ("the stall did not overflow the ring buffer", summary, stats)
    assert_every_span_right(spans, stats=stats)
    servers = [s for s in spans if s["kind"] == SERVER]
    clients = [s for s in spans if s["kind"] == CLIENT]
    print(f"stall: sent {sent}, server spans {len(servers)}, client spans {len(clients)}, "
          f"ring buffer drops {stats.get('kernel_ringbuf_drops')}, unpaired requests "
          f"{stats.get('http1_requests_unpaired_after_loss')} responses {stats.get('http1_responses_unpaired_after_loss')}")
    # Most exchanges are traced on each side; what is missing was lost or is counted.
    assert len(servers) > sent // 10 and len(clients) > sent // 10, (len(servers), len(clients), sent)
    assert len(servers) < sent or len(clients) < sent
    assert stats.get("http1_requests_unpaired_after_loss", 0) + stats.get("http1_responses_unpaired_after_loss", 0) > 0, stats


def test_stalled_sensor_sheds_whole_connections_in_the_kernel(sink, sensor_factory, procs):
    """Shedding on (the default): the kernel stops tracing connections before
    the ring buffer overflows and traces them again once it drained, from a
    request's first byte. Nothing is lost at random, so no parser loses its
    place, and every span exported is whole and right."""
    sent, stats, spans = stall_under_load(sink, sensor_factory, procs, "on")
    servers = [s for s in spans if s["kind"] == SERVER]
    clients = [s for s in spans if s["kind"] == CLIENT]
    shed = {k: v for k, v in stats.items() if "shed" in k}
    print(f"shed stall: sent {sent}, server spans {len(servers)}, client spans {len(clients)}, {shed}, "
          f"ring buffer drops {stats.get('kernel_ringbuf_drops')}")
    assert stats.get("kernel_ringbuf_drops", 0) == 0, stats
    assert stats.get("kernel_shed_cuts", 0) > 0 and stats.get("kernel_shed_bytes", 0) > 0, stats
    assert stats.get("kernel_shed_resumed", 0) > 0, ("traced again once the ring drained", stats)
    assert_every_span_right(spans, stats=stats)  # no span lost its answer: none without a status
    for counter in ("http1_requests_unpaired_after_loss", "http1_responses_unpaired_after_loss", "stream_gap_bytes"):
        assert stats.get(counter, 0) == 0, (counter, stats)
    # Shed: the three seconds of the stall (and what was in flight at each cut); kept: the rest.
    assert sent // 4 < len(servers) < sent and sent // 4 < len(clients) < sent, (len(servers), len(clients), sent)


def test_server_blocked_in_accept_before_the_sensor_starts(sink, sensor_factory, procs):
    port, _ = start_status_server(procs)  # its main thread is now in accept()
    time.sleep(0.3)
    sensor = sensor_factory(sink)
    statuses = (200, 404, 201, 500, 202, 409, 503, 418, 200, 404)
    with socket.create_connection(("127.0.0.1", port)) as c:
        reader = c.makefile("rb")
        for n, status in enumerate(statuses):
            c.sendall(f"GET /s/{status}/r{n} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            line = reader.readline()
            assert line.split()[1] == str(status).encode(), line
            length = 0
            while (h := reader.readline()) not in (b"\r\n", b""):
                if h.lower().startswith(b"content-length:"):
                    length = int(h.split(b":")[1])
            reader.read(length)
    wanted = {f"/s/{status}/r{n}": status for n, status in enumerate(statuses)}
    servers = sink.wait_for(lambda s: s["kind"] == SERVER and attr(s, "url.path") in wanted, len(statuses))
    assert sorted(attr(s, "url.path") for s in servers) == sorted(wanted)
    assert_every_span_right(servers)
    # The accept() in flight at start was seen returning: a new connection, not one joined mid-way.
    assert sensor.stats().get("http1_resyncs", 0) == 0


def test_thousand_requests_pipelined_in_one_write_to_nginx(sink, sensor_factory, procs, tmp_path):
    port = free_port()
    locations = "".join(f"    location /s/{code}/ {{ return {code} 'status {code}'; }}\n"
                        for code in (200, 201, 404, 409, 500))
    start_nginx(procs, tmp_path, f"    listen 127.0.0.1:{port};\n    keepalive_requests 5000;\n{locations}")
    wait_for_port(port)
    sensor = sensor_factory(sink)
    codes = (200, 201, 404, 409, 500)
    requests = b"".join(f"GET /s/{codes[n % 5]}/p{n} HTTP/1.1\r\nHost: t\r\n\r\n".encode() for n in range(1000))
    assert len(requests) > 16384  # more than one event's payload: the rest is a known gap
    with socket.socket() as c:
        # A send buffer that takes the whole batch, so that it goes in one
        # write: with the default, the kernel may accept it in pieces of at
        # most the payload cap, and then nothing is a gap.
        c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        c.connect(("127.0.0.1", port))
        assert c.send(requests) == len(requests)
        c.shutdown(socket.SHUT_WR)
        got = b""
        deadline = time.monotonic() + 20
        while got.count(b"HTTP/1.1 ") < 1000 and time.monotonic() < deadline:
            chunk = c.recv(65536)
            if not chunk:
                break
            got += chunk
    assert got.count(b"HTTP/1.1 ") == 1000

    stats = sensor.wait_stats(lambda st: st.get("exchanges", 0) + st.get("http1_requests_unpaired_after_loss", 0)
                              >= 1, timeout=10)
    time.sleep(2.0)
    stats = sensor.stats()
    spans = [s for s in status_spans(sink) if s["kind"] == SERVER]
    assert spans, "the requests before the gap are traced"
    assert_every_span_right(spans)
    # What the payload cap hid is counted, never reported as an error.
    assert not [s for s in spans if s["status_code"] == ERROR and attr(s, "http.response.status_code") is None]
    assert stats.get("http1_requests_unpaired_after_loss", 0) + stats.get("http1_responses_unpaired_after_loss", 0) > 0, stats


def one_exchange(port, request):
    """Sends one raw request on a new connection; the status line and head size of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as c:
        c.sendall(request)
        got = b""
        while b"\r\n\r\n" not in got:
            chunk = c.recv(1 << 20)
            if not chunk:
                break
            got += chunk
        head, _, body = got.partition(b"\r\n\r\n")
        length = re.search(rb"\r\ncontent-length: *(\d+)", head, re.I)
        while length and len(body) < int(length.group(1)):
            chunk = c.recv(65536)
            if not chunk:
                break
            body += chunk
    return head.split(b"\r\n", 1)[0].decode(), len(head)


def test_response_heads_over_the_limit_keep_their_status(sink, sensor_factory, procs):
    port, _ = start_status_server(procs)
    sensor = sensor_factory(sink)
    paths = ("/s/200/one-mib-header?h=1048576", "/s/201/ten-thousand-headers?hn=10000")
    for target in paths:
        status_line, head_size = one_exchange(port, f"GET {target} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        assert head_size > 100_000 and status_line.split()[1] == target[3:6], status_line
    spans = sink.wait_for(lambda s: (attr(s, "url.path") or "").startswith(("/s/200/one", "/s/201/ten")), 4)
    assert sorted(s["kind"] for s in spans) == [SERVER, SERVER, CLIENT, CLIENT]
    assert_every_span_right(spans)
    for s in spans:
        assert s["status_code"] != ERROR, s  # never a false "connection closed before a response"
        assert attr(s, "spanwire.http.response.head_truncated") is True, s
        assert attr(s, "http.response.body.size") is None  # unknown, not invented
    stats = sensor.wait_stats(lambda st: st.get("http1_heads_truncated", 0) >= 4)
    assert stats.get("http1_heads_truncated", 0) >= 4, stats


def test_unframable_and_oversized_requests_keep_method_path_and_the_400(sink, sensor_factory, procs, tmp_path):
    port = free_port()
    start_nginx(procs, tmp_path, f"    listen 127.0.0.1:{port};\n    location / {{ return 200 'ok'; }}")
    wait_for_port(port)
    sensor = sensor_factory(sink)
    cases = {"/cl-negative": "Content-Length: -1", "/cl-1e23": "Content-Length: 100000000000000000000000",
             "/cl-2p64": "Content-Length: 18446744073709551615", "/cl-list": "Content-Length: 5, 6",
             "/head-70k": "X-Big: " + "h" * 70_000}
    for path, header in cases.items():
        status_line, _ = one_exchange(port, f"POST {path} HTTP/1.1\r\nHost: t\r\n{header}\r\n\r\nhello".encode())
        assert status_line.split()[1] == "400", (path, status_line)
    spans = sink.wait_for(lambda s: attr(s, "url.path") in cases, 2 * len(cases))
    by_path = {}
    for s in spans:
        by_path.setdefault(attr(s, "url.path"), []).append(s)
    assert sorted(by_path) == sorted(cases)
    for path, pair in by_path.items():
        assert sorted(s["kind"] for s in pair) == [SERVER, CLIENT], path
        for s in pair:
            assert attr(s, "http.request.method") == "POST", s
            assert attr(s, "http.response.status_code") == 400, s
            flag = "head_truncated" if path == "/head-70k" else "framing_invalid"
            assert attr(s, f"spanwire.http.request.{flag}") is True, (path, s)
    stats = sensor.wait_stats(lambda st: st.get("http1_framing_invalid", 0) >= 8
                              and st.get("http1_heads_truncated", 0) >= 2)
    assert stats.get("http1_framing_invalid", 0) >= 8 and stats.get("http1_heads_truncated", 0) >= 2, stats


def read_response(sock):
    """One response off `sock`: its status code."""
    got = b""
    while b"\r\n\r\n" not in got:
        chunk = sock.recv(65536)
        assert chunk, "connection closed before a response"
        got += chunk
    head, _, body = got.partition(b"\r\n\r\n")
    length = int(re.search(rb"\r\ncontent-length: *(\d+)", head, re.I).group(1))
    while len(body) < length:
        body += sock.recv(65536)
    return int(head.split()[1])


def request_bytes(status, name):
    return f"GET /s/{status}/{name} HTTP/1.1\r\nHost: t\r\n\r\n".encode()


def test_first_writes_shorter_than_a_method_are_traced(sink, sensor_factory, procs):
    port, _ = start_status_server(procs)
    sensor_factory(sink)
    # A client that sends 1 byte, then the rest.
    with socket.create_connection(("127.0.0.1", port)) as c:
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        data = request_bytes(201, "one-byte-first")
        c.sendall(data[:1])
        time.sleep(0.05)
        c.sendall(data[1:])
        assert read_response(c) == 201
    # A writev whose first piece is "GET".
    with socket.create_connection(("127.0.0.1", port)) as c:
        data = request_bytes(202, "writev-get")
        c.sendmsg([data[:3], data[3:]])
        assert read_response(c) == 202
    wanted = ("/s/201/one-byte-first", "/s/202/writev-get")
    spans = sink.wait_for(lambda s: attr(s, "url.path") in wanted, 4)
    assert sorted((attr(s, "url.path"), s["kind"]) for s in spans) == sorted(
        (p, k) for p in wanted for k in (SERVER, CLIENT))
    assert_every_span_right(spans)


def test_servers_reading_one_byte_at_a_time_or_peeking_are_traced(sink, sensor_factory, procs):
    sensor_factory(sink)
    for args, status in ((["--read-size", "1"], 404), (["--peek", "16"], 409)):
        port, server = start_status_server(procs, *args)
        with socket.create_connection(("127.0.0.1", port)) as c:
            for n in range(3):  # keep-alive: later requests too
                c.sendall(request_bytes(status, f"{args[0][2:]}-{n}"))
                assert read_response(c) == status
        wanted = {f"/s/{status}/{args[0][2:]}-{n}" for n in range(3)}
        servers = sink.wait_for(lambda s: s["kind"] == SERVER and attr(s, "url.path") in wanted, 3)
        assert {attr(s, "url.path") for s in servers} == wanted, args
        assert_every_span_right(servers)
        procs.stop(server)


def test_slowloris_connections_are_traced(sink, sensor_factory, procs):
    port, _ = start_status_server(procs)
    sensor_factory(sink)
    conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(200)]
    try:
        requests = [request_bytes(200 if i % 2 else 500, f"slow-{i}") for i in range(200)]
        # Every connection sends one byte in turn, for the first 12 bytes of its request.
        for c in conns:
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for at in range(12):
            for c, data in zip(conns, requests):
                c.sendall(data[at:at + 1])
            time.sleep(0.01)
        for c, data in zip(conns, requests):
            c.sendall(data[12:])
        for i, c in enumerate(conns):
            assert read_response(c) == (200 if i % 2 else 500)
    finally:
        for c in conns:
            c.close()
    wanted = {f"/s/{200 if i % 2 else 500}/slow-{i}" for i in range(200)}
    servers = sink.wait_for(lambda s: s["kind"] == SERVER and attr(s, "url.path") in wanted, 200)
    assert {attr(s, "url.path") for s in servers} == wanted
    assert_every_span_right(servers)
