"""Redis end to end: Debian's redis-server started by the test on loopback
with its own directory, redis-cli and Python redis clients, the real sensor
on real BPF, spans received by a real OTLP/gRPC receiver."""
import shutil
import subprocess

import pytest

from conftest import PYTHON, HERE, attr, free_port, read_line, resource_name, wait_for_port

SERVER, CLIENT = 2, 3
STATUS_ERROR = 2


@pytest.fixture
def redis_server(procs, tmp_path):
    binary = shutil.which("redis-server")
    assert binary, "redis-server is missing: scripts/setup.sh installs it"
    port = free_port()
    data = tmp_path / "redis"
    data.mkdir()
    proc = procs.start([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                        "--dir", str(data), "--daemonize", "no", "--protected-mode", "no"], "redis-server",
                       stdout=None)
    wait_for_port(port)
    return port, proc


def cli(port, *args):
    out = subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, timeout=20, check=True)
    return out.stdout.decode()


def redis_spans(sink, count, predicate=lambda s: True, timeout=15.0):
    return sink.wait_for(lambda s: attr(s, "db.system.name") == "redis" and predicate(s), count, timeout)


def no_secret(spans, *secrets):
    for s in spans:
        text = repr(s)
        for secret in secrets:
            assert secret not in text, (secret, s)


def test_redis_cli_commands_on_both_ends(sink, sensor_factory, redis_server):
    sensor = sensor_factory(sink)
    port, server = redis_server
    cli(port, "SET", "user:1", "s3cr3t-value")
    cli(port, "GET", "user:1")
    cli(port, "HSET", "profile", "name", "alice")
    out = cli(port, "INCR", "profile")
    assert "WRONGTYPE" in out

    def op(name):
        return lambda s: attr(s, "db.operation.name") == name
    for name, text in (("SET", "SET ? ?"), ("GET", "GET ?"), ("HSET", "HSET ? ? ?"), ("INCR", "INCR ?")):
        spans = redis_spans(sink, 2, op(name))
        assert sorted(s["kind"] for s in spans) == [SERVER, CLIENT], spans
        client = next(s for s in spans if s["kind"] == CLIENT)
        srv = next(s for s in spans if s["kind"] == SERVER)
        assert resource_name(client) == "redis-cli"
        assert srv["resource"]["process.pid"] == server.pid  # (Debian's redis-server is redis-check-rdb)
        for s in spans:
            assert s["name"] == name
            assert attr(s, "db.query.text") == text
            assert attr(s, "db.namespace") == "0"
            assert attr(s, "server.port") == port
        # The server's span is the child of the client's (tuple + TCP sequence).
        assert srv["parent_span_id"] == client["span_id"] and srv["trace_id"] == client["trace_id"]
    incr = redis_spans(sink, 2, op("INCR"))
    for s in incr:
        assert s["status_code"] == STATUS_ERROR
        assert attr(s, "db.response.status_code") == "WRONGTYPE"
        assert attr(s, "error.type") == "WRONGTYPE"
    no_secret(sink.spans(), "s3cr3t", "user:1", "alice", "profile")
    assert sensor.stats()["redis_parse_errors"] == 0


def test_python_pipeline_select_and_transaction(sink, sensor_factory, redis_server, procs):
    sensor_factory(sink)
    port, _ = redis_server
    proc = procs.start([PYTHON, str(HERE / "apps" / "redis_client.py"), str(port), "pipeline"], "redis_client")
    assert proc.wait(timeout=30) == 0, proc.log_path.read_text()

    clients = redis_spans(sink, 8, lambda s: s["kind"] == CLIENT and resource_name(s).startswith("python"))
    names = [s["name"] for s in sorted(clients, key=lambda s: s["start"])]
    # redis-py sends INCR as INCRBY.
    assert names == ["SELECT", "SET", "GET", "INCRBY", "MULTI", "INCRBY", "EXPIRE", "EXEC"], names
    by_name = {s["name"]: s for s in clients}
    assert attr(by_name["SELECT"], "db.namespace") == "0"  # selected by this very command
    assert attr(by_name["SET"], "db.namespace") == "2"
    assert attr(by_name["EXEC"], "db.operation.batch.size") == 2
    assert attr(by_name["SET"], "db.query.text") == "SET ? ?"
    no_secret(sink.spans(), "s3cr3t", "order:1")


def test_pubsub_messages_are_counted_not_spans(sink, sensor_factory, redis_server, procs):
    sensor = sensor_factory(sink)
    port, _ = redis_server
    proc = procs.start([PYTHON, str(HERE / "apps" / "redis_client.py"), str(port), "pubsub"], "redis_pubsub")
    assert proc.wait(timeout=30) == 0, proc.log_path.read_text()
    clients = redis_spans(sink, 4, lambda s: s["kind"] == CLIENT)
    names = sorted(s["name"] for s in clients)
    assert names == ["PUBLISH", "PUBLISH", "SUBSCRIBE", "UNSUBSCRIBE"], names
    stats = sensor.wait_stats(lambda st: st.get("redis_pushes", 0) >= 2)
    # Two messages reach the subscriber (and are seen on both ends).
    assert stats["redis_pushes"] >= 2, stats


def test_database_call_inside_an_http_request_is_its_child(sink, sensor_factory, redis_server, procs):
    sensor_factory(sink)
    redis_port, _ = redis_server
    cli(redis_port, "SET", "order:7", "shipped")
    http_port = free_port()
    app = procs.start([PYTHON, str(HERE / "apps" / "orders_app.py"), str(http_port), str(redis_port)], "orders_app")
    assert read_line(app) == "ready"
    wait_for_port(http_port)
    out = subprocess.run(["curl", "-sS", f"http://127.0.0.1:{http_port}/orders/7"], capture_output=True,
                         timeout=20, check=True)
    assert out.stdout == b"shipped\n"
    http = sink.wait_for(lambda s: attr(s, "url.path") == "/orders/7" and s["kind"] == SERVER, 1)
    assert len(http) == 1
    gets = redis_spans(sink, 1, lambda s: s["kind"] == CLIENT and s["resource"]["process.pid"] == app.pid
                       and s["name"] == "GET")
    assert len(gets) == 1
    assert gets[0]["parent_span_id"] == http[0]["span_id"] and gets[0]["trace_id"] == http[0]["trace_id"]


def test_connection_opened_before_the_sensor_is_still_traced(sink, sensor_factory, redis_server, procs):
    port, _ = redis_server
    proc = procs.start([PYTHON, str(HERE / "apps" / "redis_client.py"), str(port), "pool"], "redis_pool",
                       stdin=subprocess.PIPE)
    assert read_line(proc) == "connected"
    sensor_factory(sink)
    proc.stdin.write(b"go\n")
    proc.stdin.flush()
    assert read_line(proc) == "done"
    clients = redis_spans(sink, 3, lambda s: s["kind"] == CLIENT and s["resource"]["process.pid"] == proc.pid)
    assert sorted(s["name"] for s in clients) == ["DEL", "GET", "SET"], clients
    for s in clients:
        assert attr(s, "db.namespace") is None  # the database selected before the sensor is unknown
