"""HTTP/1.x end to end: curl and Python clients against a python http.server
application, traced by the real sensor on real BPF, spans received by a real
OTLP/gRPC receiver."""
import json
import shutil
import signal
import subprocess
import time


from conftest import PYTHON, HERE, attr, curl, read_line, resource_name

SERVER, CLIENT = 2, 3  # OTLP SpanKind numbers
STATUS_ERROR = 2


def pair_for(sink, path, method="GET", count=1, timeout=15.0):
    """The `count` client (curl) and server (python) spans of requests to path."""
    def match(s):
        return attr(s, "url.path") == path and attr(s, "http.request.method") == method
    spans = sink.wait_for(match, 2 * count, timeout)
    clients = [s for s in spans if s["kind"] == CLIENT]
    servers = [s for s in spans if s["kind"] == SERVER]
    return clients, servers


def assert_contains_in_time(client, server):
    """Same host: the client span encloses the server span."""
    assert client["start"] <= server["start"] <= server["end"] <= client["end"], (client, server)


def test_get_post_404_head_on_fresh_connections(sink, sensor_factory, http_app):
    sensor = sensor_factory(sink)
    port, server_proc = http_app()
    t0 = time.time_ns()
    curl_pid, body = curl(f"http://127.0.0.1:{port}/hello")
    assert body == b"hello world\n"
    curl(f"http://127.0.0.1:{port}/echo", "-X", "POST", "--data-binary", "x" * 1000,
         "-H", "Content-Type: application/octet-stream")
    curl(f"http://127.0.0.1:{port}/nope")
    curl("-I", f"http://127.0.0.1:{port}/hello")
    t1 = time.time_ns()

    clients, servers = pair_for(sink, "/hello", "GET")
    assert len(clients) == 1 and len(servers) == 1
    c, s = clients[0], servers[0]
    assert resource_name(c) == "curl" and c["resource"]["process.pid"] == curl_pid
    assert resource_name(s).startswith("python3")
    assert s["resource"]["process.pid"] == server_proc.pid
    assert s["resource"]["service.name"].startswith("python3")
    # One trace: the server's span is the child of curl's (same-host partner).
    assert c["parent_span_id"] == ""
    assert s["parent_span_id"] == c["span_id"] and s["trace_id"] == c["trace_id"]
    for span in (c, s):
        assert span["name"] == "GET /hello"
        assert attr(span, "http.response.status_code") == 200
        assert attr(span, "http.response.body.size") == 12
        assert attr(span, "http.request.body.size") == 0
        assert attr(span, "network.protocol.version") == "1.1"
        assert attr(span, "url.scheme") == "http"
        assert attr(span, "server.port") == port
        assert attr(span, "user_agent.original").startswith("curl/")
        assert t0 <= span["start"] <= span["end"] <= t1
        assert span["status_code"] == 0
    assert attr(c, "url.full") == f"http://127.0.0.1:{port}/hello"
    assert attr(c, "network.peer.port") == port
    assert attr(s, "client.address") == "127.0.0.1"
    assert attr(s, "network.peer.port") == attr(c, "network.local.port")
    assert_contains_in_time(c, s)

    clients, servers = pair_for(sink, "/echo", "POST")
    assert len(clients) == 1 and len(servers) == 1
    for span in clients + servers:
        assert span["name"] == "POST /echo"
        assert attr(span, "http.request.body.size") == 1000
        assert attr(span, "http.response.body.size") == 1000
        assert attr(span, "http.response.status_code") == 200

    clients, servers = pair_for(sink, "/nope", "GET")
    assert len(clients) == 1 and len(servers) == 1
    assert attr(clients[0], "http.response.status_code") == 404
    assert clients[0]["status_code"] == STATUS_ERROR  # a client's 4xx is an error
    assert servers[0]["status_code"] == 0              # a server's 4xx is not
    assert attr(clients[0], "error.type") == "404"

    clients, servers = pair_for(sink, "/hello", "HEAD")
    assert len(clients) == 1 and len(servers) == 1
    for span in clients + servers:
        assert attr(span, "http.response.body.size") == 0
        assert attr(span, "http.response.status_code") == 200

    stats = sensor.stats()
    assert stats["events_malformed"] == 0
    assert stats["kernel_ringbuf_drops"] == 0


def test_keepalive_chunked_slow_and_error(sink, sensor_factory, http_app):
    sensor_factory(sink)
    port, _ = http_app()
    base = f"http://127.0.0.1:{port}"
    # One curl process, one connection, five requests in order.
    _, out = curl(f"{base}/users/42", f"{base}/users/43", f"{base}/chunked", f"{base}/slow?ms=250", f"{base}/error")
    assert b"0123456789" * 3 in out

    clients, servers = pair_for(sink, "/users/42")
    assert len(clients) == 1 and len(servers) == 1
    assert clients[0]["name"] == "GET /users/{id}"
    _, servers43 = pair_for(sink, "/users/43")
    # Same keep-alive connection: same client port for all requests.
    ports = {attr(s, "network.peer.port") for s in servers + servers43}
    assert len(ports) == 1

    clients, servers = pair_for(sink, "/chunked")
    assert len(clients) == 1 and len(servers) == 1
    for span in clients + servers:
        assert attr(span, "http.response.body.size") == 30
        assert attr(span, "http.response.status_code") == 200

    clients, servers = pair_for(sink, "/slow")
    for span in clients + servers:
        assert span["end"] - span["start"] >= 250_000_000
        assert span["end"] - span["start"] < 5_000_000_000
    assert_contains_in_time(clients[0], servers[0])

    clients, servers = pair_for(sink, "/error")
    assert servers[0]["status_code"] == STATUS_ERROR
    assert attr(servers[0], "error.type") == "500"
    assert clients[0]["status_code"] == STATUS_ERROR


def test_traceparent_is_honoured(sink, sensor_factory, http_app):
    sensor_factory(sink)
    port, _ = http_app()
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    parent = "00f067aa0ba902b7"
    curl(f"http://127.0.0.1:{port}/hello?traced=1", "-H", f"traceparent: 00-{trace_id}-{parent}-01",
         "-H", "tracestate: vendor=value")
    clients, servers = pair_for(sink, "/hello")
    assert len(servers) == 1 and len(clients) == 1
    for span in clients + servers:
        assert span["trace_id"] == trace_id
        assert span["span_id"] != parent
    # curl's span hangs under the header's parent; the server's under curl's
    # (the kernel read curl's span id from the TCP option on the request: the
    # most specific evidence wins).
    assert clients[0]["parent_span_id"] == parent
    assert attr(clients[0], "spanwire.link") == "traceparent"
    assert servers[0]["parent_span_id"] == clients[0]["span_id"]
    assert attr(servers[0], "spanwire.link") == "tcp-option"
    assert servers[0]["span_id"] != clients[0]["span_id"]


def test_connection_opened_before_the_sensor(sink, sensor_factory, http_app, procs):
    # Server and a keep-alive client connection both exist before the sensor.
    port, server_proc = http_app()
    client = procs.start([PYTHON, str(HERE / "apps" / "keepalive_client.py"), str(port)], "keepalive",
                         stdin=subprocess.PIPE)
    assert read_line(client) == "connected"
    client.stdin.write(b"GET /users/1\n")
    client.stdin.flush()
    assert read_line(client).startswith("200")

    sensor = sensor_factory(sink)
    paths = ("/users/2", "/users/3", "/users/4")
    for path in paths:
        client.stdin.write(f"GET {path}\n".encode())
        client.stdin.flush()
        assert read_line(client).startswith("200")

    # Whether a request was still in flight when the sensor joined is unknown
    # until the client is seen waiting for an answer before its next request:
    # the first exchange on each side is counted instead of traced.
    for path in paths[1:]:
        clients, servers = pair_for(sink, path)
        assert len(servers) == 1, f"server span for {path} on the pre-existing connection"
        assert len(clients) == 1, f"client span for {path} on the pre-existing connection"
        assert servers[0]["resource"]["process.pid"] == server_proc.pid
        assert clients[0]["resource"]["process.pid"] == client.pid
        assert attr(servers[0], "http.response.status_code") == 200
        assert servers[0]["name"] == "GET /users/{id}"
    first = [s for s in sink.spans() if attr(s, "url.path") == paths[0]]
    stats = sensor.wait_stats(lambda s: s.get("http1_requests_unpaired_after_loss", 0) + len(first) >= 2)
    assert stats.get("http1_requests_unpaired_after_loss", 0) + len(first) == 2, stats
    # The request made before the sensor started is not invented.
    assert not [s for s in sink.spans() if attr(s, "url.path") == "/users/1"]


def test_sensor_does_not_trace_its_own_export(sink, sensor_factory, http_app):
    sensor = sensor_factory(sink)
    port, _ = http_app()
    for i in range(5):
        curl(f"http://127.0.0.1:{port}/hello?n={i}")
    spans = sink.wait_for(lambda s: attr(s, "url.path") == "/hello", 10)
    assert len(spans) == 10
    time.sleep(1.0)  # several export batches have gone out by now
    for span in sink.spans():
        assert span["resource"]["process.pid"] != sensor.proc.pid
        assert "TraceService" not in span["name"]
        assert resource_name(span) != "otlp_sink"


def test_terminal_output_without_collector(procs, build_dir, tmp_path, http_app):
    """No collector configured: one readable line per span on stdout."""
    from conftest import start_sensor
    sensor = start_sensor(procs, build_dir, tmp_path, [])
    port, _ = http_app()
    curl(f"http://127.0.0.1:{port}/users/77")
    lines = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(lines) < 2:
        try:
            line = read_line(sensor.proc, timeout=max(0.1, deadline - time.monotonic()))
        except TimeoutError:
            break
        if "/users/{id}" in line:
            lines.append(line)
    assert len(lines) == 2, lines
    assert any("SERVER" in l and "python3" in l and "200" in l for l in lines), lines
    assert any("CLIENT" in l and "curl" in l for l in lines), lines


def exit_program_ids():
    """Ids of loaded BPF programs named like the sensor's shared exit hook."""
    bpftool = shutil.which("bpftool") or "/usr/sbin/bpftool"
    shown = subprocess.run([bpftool, "prog", "show"], capture_output=True, text=True, check=True).stdout
    return {line.split(":")[0] for line in shown.splitlines() if "name tp_sys_exit" in line}


def test_trace_command_filters_and_json(procs, build_dir, tmp_path, http_app):
    before = exit_program_ids()  # another sensor may be running on this host
    port, server_proc = http_app()
    cmd = [str(build_dir / "spanwire"), "trace", "--json", "--port", str(port), "--comm", "curl"]
    trace = procs.start(cmd, "trace")
    deadline = time.monotonic() + 30
    while "hooks attached" not in trace.log_path.read_text() and time.monotonic() < deadline:
        assert trace.poll() is None, trace.log_path.read_text()
        time.sleep(0.1)
    other_port, _ = http_app("other_app")
    curl(f"http://127.0.0.1:{other_port}/hello")  # filtered out by --port
    curl(f"http://127.0.0.1:{port}/users/5")
    line = json.loads(read_line(trace, timeout=10))
    assert line["comm"] == "curl"  # --comm curl: python's server side is not traced
    assert line["role"] == "client"
    assert line["method"] == "GET" and line["path"] == "/users/5" and line["status"] == 200
    assert line["response_bytes"] > 0 and line["latency_ms"] >= 0
    assert exit_program_ids() - before, "the trace command's programs are loaded while it runs"
    # Ctrl-C detaches cleanly: exit code 0 and none of its programs left in the kernel.
    assert procs.stop(trace, signal.SIGINT, timeout=30) == 0
    assert "all probes detached" in trace.log_path.read_text()
    assert exit_program_ids() <= before
