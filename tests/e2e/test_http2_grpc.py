"""HTTP/2 and gRPC end to end on real BPF: python3-grpcio servers and clients,
and nghttp2's nghttpd/nghttp over h2c (prior knowledge and HTTP/1.1 Upgrade)."""
import shutil
import subprocess

import pytest

from conftest import HERE, PYTHON, attr, free_port, read_line, wait_for_port

SERVER, CLIENT = 2, 3
STATUS_UNSET, STATUS_ERROR = 0, 2


@pytest.fixture
def grpc_server(procs):
    port = free_port()
    proc = procs.start([PYTHON, str(HERE / "apps" / "grpc_app.py"), "serve", str(port)], "grpc_server")
    assert read_line(proc) == "ready"
    wait_for_port(port)
    return port, proc


def grpc_call(procs, port, scenario, *args, timeout=30):
    proc = procs.start([PYTHON, str(HERE / "apps" / "grpc_app.py"), "call", str(port), scenario, *args],
                       f"grpc_{scenario}")
    line = read_line(proc, timeout=timeout)
    proc.wait(timeout=timeout)
    return line, proc.pid


def rpc_spans(sink, method, count, timeout=20.0):
    spans = sink.wait_for(lambda s: attr(s, "rpc.method") == method, count, timeout)
    return [s for s in spans if s["kind"] == CLIENT], [s for s in spans if s["kind"] == SERVER]


def test_grpc_unary_ok_and_not_found(sink, sensor_factory, grpc_server, procs):
    sensor_factory(sink)
    port, server_proc = grpc_server
    line, client_pid = grpc_call(procs, port, "unary")
    assert line == "OK 10"
    clients, servers = rpc_spans(sink, "Unary", 2)
    assert len(clients) == 1 and len(servers) == 1
    for s in clients + servers:
        assert s["name"] == "demo.Echo/Unary"
        assert attr(s, "rpc.system") == "grpc"
        assert attr(s, "rpc.service") == "demo.Echo"
        assert attr(s, "rpc.grpc.status_code") == 0
        assert attr(s, "network.protocol.version") == "2"
        assert attr(s, "server.port") == port
        assert attr(s, "spanwire.rpc.request.messages") == 1
        assert attr(s, "spanwire.rpc.response.messages") == 1
        assert s["status_code"] == STATUS_UNSET
        assert s["end"] >= s["start"]
    assert servers[0]["resource"]["process.pid"] == server_proc.pid
    assert clients[0]["resource"]["process.pid"] == client_pid
    assert clients[0]["start"] <= servers[0]["start"] <= servers[0]["end"] <= clients[0]["end"]

    line, _ = grpc_call(procs, port, "notfound")
    assert line == "NOT_FOUND no such item: 42"
    clients, servers = rpc_spans(sink, "NotFound", 2)
    assert len(clients) == 1 and len(servers) == 1
    for s in clients + servers:
        assert attr(s, "rpc.grpc.status_code") == 5
    # NOT_FOUND is the caller's problem: an error for the client, not for the server.
    assert clients[0]["status_code"] == STATUS_ERROR
    assert clients[0]["status_message"] == "no such item: 42"
    assert servers[0]["status_code"] == STATUS_UNSET


def test_grpc_server_streaming(sink, sensor_factory, grpc_server, procs):
    sensor_factory(sink)
    port, _ = grpc_server
    line, _ = grpc_call(procs, port, "stream")
    assert line == "OK 5"
    clients, servers = rpc_spans(sink, "Stream", 2)
    assert len(clients) == 1 and len(servers) == 1
    for s in clients + servers:
        assert s["name"] == "demo.Echo/Stream"
        assert attr(s, "spanwire.rpc.response.messages") == 5
        assert attr(s, "spanwire.rpc.response.message_bytes") == 50
        assert attr(s, "rpc.grpc.status_code") == 0


def test_grpc_client_streaming_and_bidirectional(sink, sensor_factory, grpc_server, procs):
    sensor_factory(sink)
    port, _ = grpc_server
    assert grpc_call(procs, port, "collect")[0] == "OK 40"
    assert grpc_call(procs, port, "chat")[0] == "OK 3"
    clients, servers = rpc_spans(sink, "Collect", 2)
    assert len(clients) == 1 and len(servers) == 1
    for s in clients + servers:
        assert s["name"] == "demo.Echo/Collect"
        assert attr(s, "spanwire.rpc.request.messages") == 4
        assert attr(s, "spanwire.rpc.request.message_bytes") == 40
        assert attr(s, "spanwire.rpc.response.messages") == 1
    clients, servers = rpc_spans(sink, "Chat", 2)
    assert len(clients) == 1 and len(servers) == 1
    for s in clients + servers:
        assert attr(s, "spanwire.rpc.request.messages") == 3
        assert attr(s, "spanwire.rpc.response.messages") == 3
        assert attr(s, "spanwire.rpc.response.message_bytes") == 12
        assert attr(s, "rpc.grpc.status_code") == 0


def test_fifty_concurrent_calls_on_one_channel(sink, sensor_factory, grpc_server, procs):
    sensor_factory(sink)
    port, _ = grpc_server
    line, _ = grpc_call(procs, port, "concurrent")
    assert line == "OK 50"
    clients, servers = rpc_spans(sink, "Unary", 100, timeout=30)
    assert len(clients) == 50 and len(servers) == 50
    for s in clients + servers:
        assert s["name"] == "demo.Echo/Unary"
        assert attr(s, "rpc.grpc.status_code") == 0
        assert attr(s, "spanwire.rpc.request.messages") == 1
    # One channel: one connection, so one client port for all 50 server spans.
    assert len({attr(s, "network.peer.port") for s in servers}) == 1
    assert len({s["span_id"] for s in clients + servers}) == 100
    # Each server span pairs with one client span of the same HTTP/2 stream, and is
    # its child in the same trace (linked by the TCP sequence number of the HEADERS frame).
    assert sorted(attr(s, "spanwire.http2.stream_id") for s in servers) == \
        sorted(attr(s, "spanwire.http2.stream_id") for s in clients)
    client_of = {attr(s, "spanwire.http2.stream_id"): s for s in clients}
    for s in servers:
        partner = client_of[attr(s, "spanwire.http2.stream_id")]
        assert s["parent_span_id"] == partner["span_id"] and s["trace_id"] == partner["trace_id"]
        assert attr(s, "spanwire.link") == "tuple"


def test_hundred_concurrent_calls_twenty_times_keep_their_method(sink, sensor_factory, grpc_server, procs):
    """100 calls at once on one channel make gRPC write their HEADERS frames in
    one sendmsg of hundreds of iovecs. Every byte of it must reach the HPACK
    decoder: one lost piece loses the client's dynamic table for the rest of
    the connection, and later calls their method."""
    sensor = sensor_factory(sink)
    port, server_proc = grpc_server
    line, client_pid = grpc_call(procs, port, "burst", "100", "20", timeout=120)
    assert line == "OK 2000"
    ours = {server_proc.pid, client_pid}
    spans = sink.wait_for(lambda s: s["resource"]["process.pid"] in ours, 4000, timeout=60)
    clients = [s for s in spans if s["kind"] == CLIENT]
    servers = [s for s in spans if s["kind"] == SERVER]
    assert len(clients) == 2000 and len(servers) == 2000, (len(clients), len(servers))
    lost = [s for s in spans if attr(s, "rpc.method") != "Unary" or s["name"] != "demo.Echo/Unary"]
    assert not lost, f"{len(lost)} calls lost their method, e.g. {lost[0]['name']} {lost[0]['attributes']}"
    stats = sensor.stats()
    assert stats["kernel_iov_truncated"] == 0, stats
    assert stats["kernel_ringbuf_drops"] == 0, stats


def test_grpc_connection_opened_before_the_sensor(sink, sensor_factory, grpc_server, procs):
    """Joined mid-connection: the HPACK dynamic table is unknown. Calls are still
    traced with what is certain, and no header value is ever guessed."""
    port, server_proc = grpc_server
    client = procs.start([PYTHON, str(HERE / "apps" / "grpc_app.py"), "call", str(port), "held"], "grpc_held",
                         stdin=subprocess.PIPE)
    assert read_line(client, timeout=30) == "first"
    sensor = sensor_factory(sink)
    client.stdin.write(b"go\n")
    client.stdin.flush()
    assert read_line(client, timeout=30) == "OK 2"

    # Only this test's two processes: other HTTP/2 traffic on the host is traced too.
    ours = {server_proc.pid, client.pid}
    spans = sink.wait_for(lambda s: s["resource"]["process.pid"] in ours, 4, timeout=20)
    servers = [s for s in spans if s["kind"] == SERVER]
    clients = [s for s in spans if s["kind"] == CLIENT]
    assert len(servers) == 2 and len(clients) == 2, [s["name"] for s in spans]
    assert all(s["resource"]["process.pid"] == server_proc.pid for s in servers)
    assert all(s["resource"]["process.pid"] == client.pid for s in clients)
    for s in spans:
        # Whatever was decoded is right: the method is POST and, if known, the path and port.
        assert attr(s, "http.request.method") in (None, "POST")
        assert attr(s, "rpc.method") in (None, "Unary")
        assert attr(s, "url.path") in (None, "/demo.Echo/Unary")
        assert attr(s, "network.protocol.version") == "2"
        assert s["end"] >= s["start"]
    # The first call happened before the sensor: it is not invented.
    assert len([s for s in sink.spans() if s["resource"]["process.pid"] in ours]) == 4
    stats = sensor.wait_stats(lambda st: st["http2_hpack_unknown_connections"] >= 1)
    assert stats["http2_hpack_unknown_connections"] >= 1


def test_h2c_with_nghttp(sink, sensor_factory, procs, tmp_path):
    nghttpd = shutil.which("nghttpd") or "/usr/sbin/nghttpd"
    nghttp = shutil.which("nghttp")
    www = tmp_path / "www"
    www.mkdir()
    (www / "page.html").write_bytes(b"<html>h2c</html>\n" * 100)
    port = free_port()
    procs.start([nghttpd, "--no-tls", "-a", "127.0.0.1", "-d", str(www), str(port)], "nghttpd")
    wait_for_port(port)
    sensor_factory(sink)
    res = subprocess.run([nghttp, "-n", f"http://127.0.0.1:{port}/page.html", f"http://127.0.0.1:{port}/absent"],
                         capture_output=True, timeout=30)
    assert res.returncode == 0, res.stderr

    spans = sink.wait_for(lambda s: attr(s, "url.path") == "/page.html", 2)
    assert sorted(s["kind"] for s in spans) == [SERVER, CLIENT]
    for s in spans:
        assert s["name"] == "GET /page.html"
        assert attr(s, "network.protocol.version") == "2"
        assert attr(s, "http.response.status_code") == 200
        assert attr(s, "http.response.body.size") == 1700
        assert attr(s, "rpc.system") is None
    client = next(s for s in spans if s["kind"] == CLIENT)
    assert attr(client, "url.full") == f"http://127.0.0.1:{port}/page.html"
    missing = sink.wait_for(lambda s: attr(s, "url.path") == "/absent", 2)
    assert sorted(attr(s, "http.response.status_code") for s in missing) == [404, 404]


def test_h2c_upgrade(sink, sensor_factory, procs, tmp_path):
    """HTTP/1.1 `Upgrade: h2c` (nghttpx in front of python http.server; nghttp -u and
    curl --http2 as clients): the upgrade request is answered on HTTP/2 stream 1, so it
    becomes one HTTP/2 span (not a 101 span), and later streams follow."""
    www = tmp_path / "www"
    www.mkdir()
    (www / "first.html").write_bytes(b"<p>upgraded</p>\n" * 50)
    (www / "second.txt").write_bytes(b"x" * 333)
    backend, port = free_port(), free_port()
    procs.start([PYTHON, "-m", "http.server", "-b", "127.0.0.1", "-d", str(www), str(backend)], "h2c_backend")
    wait_for_port(backend)
    # nghttpd does not implement the upgrade; nghttpx's cleartext frontend does.
    procs.start(["/usr/sbin/nghttpx", f"--frontend=127.0.0.1,{port};no-tls", f"--backend=127.0.0.1,{backend}",
                 "--single-process", "--workers=1", "--conf=/dev/null", "--accesslog-file=/dev/null",
                 f"--errorlog-file={tmp_path / 'nghttpx.log'}"], "nghttpx")
    wait_for_port(port)
    sensor = sensor_factory(sink)
    res = subprocess.run([shutil.which("nghttp"), "-u", "-n", f"http://127.0.0.1:{port}/first.html",
                          f"http://127.0.0.1:{port}/second.txt"], capture_output=True, timeout=30)
    assert res.returncode == 0, res.stderr
    res = subprocess.run(["curl", "-sS", "--http2", "-o", "/dev/null", f"http://127.0.0.1:{port}/second.txt"],
                         capture_output=True, timeout=30)
    assert res.returncode == 0, res.stderr

    def on_front(s):
        return port in (attr(s, "network.local.port"), attr(s, "network.peer.port"))

    first = sink.wait_for(lambda s: on_front(s) and attr(s, "url.path") == "/first.html", 2)
    assert sorted(s["kind"] for s in first) == [SERVER, CLIENT], [s["name"] for s in first]
    for s in first:
        assert s["name"] == "GET /first.html"
        assert attr(s, "network.protocol.version") == "2"
        assert attr(s, "http.response.status_code") == 200
        assert attr(s, "http.response.body.size") == 800
        assert attr(s, "spanwire.http2.stream_id") == 1  # the upgrade request itself
    second = sink.wait_for(lambda s: on_front(s) and attr(s, "url.path") == "/second.txt", 4)
    assert sorted(s["kind"] for s in second) == [SERVER, SERVER, CLIENT, CLIENT]
    assert all(attr(s, "http.response.body.size") == 333 for s in second)
    assert all(attr(s, "network.protocol.version") == "2" for s in second)
    curl = [s for s in second if s["resource"].get("process.executable.name") == "curl"]
    assert len(curl) == 1 and attr(curl[0], "spanwire.http2.stream_id") == 1
    # No separate HTTP/1 span for the 101 that switched the connections.
    assert not [s for s in sink.spans() if on_front(s) and attr(s, "http.response.status_code") == 101]
    stats = sensor.wait_stats(lambda st: st["http1_upgrades_h2c"] >= 4)
    assert stats["http1_upgrades_h2c"] >= 4  # two connections, each seen from both ends
