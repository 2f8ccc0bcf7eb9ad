"""Go services end to end on real BPF: crypto/tls plaintext from uprobes on
crypto/tls.(*Conn).Read/Write (entry, and every RET instead of a uretprobe),
HTTP/1.1 and HTTP/2 over Go's TLS on both sides, stripped binaries (functions
from .gopclntab), a server started before the sensor, and goroutine
causality: a Go handler's outgoing calls are children of the request it serves.

The Go programs (tests/e2e/apps/go_tls_app) are built by the tests with
Debian's Go; they contain no tracing code."""
import os
import shutil
import subprocess

import pytest

from conftest import HERE, attr, cannot_run, free_port, make_cert, read_line, wait_for_port

SERVER, CLIENT = 2, 3
CHAINS = 20
HELLO_BYTES = 280


@pytest.fixture(scope="session")
def go_app(tmp_path_factory):
    """The test app built twice: with symbols and DWARF, and stripped (-s -w)."""
    go = shutil.which("go")
    if go is None:
        cannot_run("Debian's Go is missing: apt-get install golang-go (scripts/setup.sh does)")
    out = tmp_path_factory.mktemp("go_tls_app")
    src = out / "main.go"
    shutil.copy(HERE / "apps" / "go_tls_app" / "main.go", src)
    env = dict(os.environ, HOME=str(out), GOCACHE=str(out / "cache"), GO111MODULE="off", CGO_ENABLED="0")
    for name, flags in (("app", []), ("app_stripped", ["-ldflags=-s -w"])):
        res = subprocess.run([go, "build", *flags, "-o", str(out / name), str(src)], cwd=out, env=env,
                             capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr
    return {"plain": out / "app", "stripped": out / "app_stripped"}


@pytest.fixture
def go_server(procs, tmp_path):
    """Starts the Go HTTPS server (h2 and http/1.1 by ALPN); returns (port, proc)."""
    def start(binary, downstream=None, name="go_server", tls=True):
        crt, key = make_cert(tmp_path) if tls else ("-", "-")
        port = free_port()
        cmd = [str(binary), "server", str(port), str(crt), str(key)]
        if downstream:
            cmd += list(downstream)
        proc = procs.start(cmd, name)
        assert read_line(proc) == "ready"
        wait_for_port(port)
        return port, proc
    return start


def go_client(binary, url, count, proto, workers=1):
    res = subprocess.run([str(binary), "client", url, str(count), proto, str(workers)], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0 and res.stdout.strip() == f"ok {count}", res.stdout + res.stderr
    return res


def on_port(port):
    return lambda s: port in (attr(s, "network.local.port"), attr(s, "network.peer.port"))


def wait_hooked(sensor, binary, before):
    """Stats once the sensor hooked one more file (the Go executable, found after its exec)."""
    stats = sensor.wait_stats(lambda st: st["tls_files_hooked"] > before, timeout=5)
    assert stats["tls_files_hooked"] > before, f"{binary} was not hooked: {stats}"


def assert_clean_parsers(sensor):
    stats = sensor.wait_stats(lambda st: st["kernel_tls_encrypted_bytes"] > 0)
    assert stats["kernel_tls_encrypted_bytes"] > 0
    for counter in ("http1_parse_errors", "http1_unparsed_bytes", "http2_parse_errors", "http2_unparsed_bytes"):
        assert stats[counter] == 0, (counter, stats)


def check_pairs(spans, port, version, count, server_pid, client_pid):
    """count client/server pairs of GET /hello over `version`, https, linked by the tuple rule."""
    mine = [s for s in spans if attr(s, "network.protocol.version") == version]
    clients = [s for s in mine if s["kind"] == CLIENT]
    servers = [s for s in mine if s["kind"] == SERVER]
    assert len(clients) == count and len(servers) == count, [(s["kind"], s["name"]) for s in mine]
    by_id = {s["span_id"]: s for s in clients}
    for s in mine:
        assert s["name"] == "GET /hello"
        assert attr(s, "url.scheme") == "https"
        assert attr(s, "http.response.status_code") == 200
        assert attr(s, "http.response.body.size") == HELLO_BYTES
    assert {s["resource"]["process.pid"] for s in servers} == {server_pid}
    assert {s["resource"]["process.pid"] for s in clients} == {client_pid} if client_pid else True
    for c in clients:
        assert attr(c, "url.full") == f"https://127.0.0.1:{port}/hello"
    for s in servers:
        parent = by_id.get(s["parent_span_id"])
        assert parent is not None, "each server span is the child of its client span"
        assert parent["trace_id"] == s["trace_id"]
        assert attr(s, "spanwire.link") == "tuple"


@pytest.mark.parametrize("build", ["plain", "stripped"])
def test_go_server_and_client_over_tls_http1_and_http2(sink, sensor_factory, go_app, go_server, build_dir,
                                                        build):
    """A Go server and a Go client started after the sensor (found at exec):
    spans on both sides for HTTP/1.1 and HTTP/2, from the binary with symbols
    and from the stripped one."""
    binary = go_app[build]
    sensor = sensor_factory(sink)
    before = sensor.wait_stats(lambda st: "tls_files_hooked" in st)["tls_files_hooked"]
    port, server = go_server(binary)
    wait_hooked(sensor, binary, before)
    go_client(binary, f"https://127.0.0.1:{port}/hello", 3, "h1")
    go_client(binary, f"https://127.0.0.1:{port}/hello", 3, "h2")

    spans = sink.wait_for(on_port(port), 12)
    check_pairs(spans, port, "1.1", 3, server.pid, None)
    check_pairs(spans, port, "2", 3, server.pid, None)
    assert {s["resource"]["process.executable.name"] for s in spans} == {binary.name}
    assert_clean_parsers(sensor)

    doctor = subprocess.run([str(build_dir / "spanwire"), "doctor"], capture_output=True, text=True, timeout=60)
    assert doctor.returncode == 0, doctor.stderr
    lines = doctor.stdout.splitlines()
    where = [i for i, l in enumerate(lines) if l.strip().startswith(str(binary))]
    assert where, doctor.stdout
    line = lines[where[0] + 1]
    assert "crypto/tls Read" in line and "hooked" in line, line
    if build == "stripped":
        assert ".gopclntab" in line and "assumed" in line, line
    else:
        assert "from DWARF" in line, line


def test_go_server_started_before_sensor(sink, sensor_factory, go_app, go_server):
    """Its new connections are traced: the executable is hooked at start."""
    port, server = go_server(go_app["plain"])
    sensor = sensor_factory(sink)
    go_client(go_app["plain"], f"https://127.0.0.1:{port}/hello", 2, "h2")
    spans = sink.wait_for(lambda s: on_port(port)(s) and s["kind"] == SERVER, 2)
    assert len(spans) == 2
    for s in spans:
        assert s["resource"]["process.pid"] == server.pid
        assert attr(s, "url.scheme") == "https"
        assert attr(s, "network.protocol.version") == "2"
    assert_clean_parsers(sensor)


SHAPE = ["client CLIENT", "front SERVER", "front CLIENT", "back SERVER"]


def chain_role(span, front, back, front_pid, client_pid):
    kind, pid = span["kind"], span["resource"]["process.pid"]
    local, peer = attr(span, "network.local.port"), attr(span, "network.peer.port")
    if kind == CLIENT and pid == client_pid and peer == front:
        return "client CLIENT"
    if kind == SERVER and local == front:
        return "front SERVER"
    if kind == CLIENT and pid == front_pid and peer == back:
        return "front CLIENT"
    if kind == SERVER and local == back:
        return "back SERVER"
    return None


def chain_n(span):
    text = attr(span, "url.query") or attr(span, "url.full") or ""
    return text.split("n=")[-1] if "n=" in text else None


@pytest.mark.parametrize("transport,inbound,downstream,propagation", [
    ("tls", "h1", "h2", "tcp-option"), ("tls", "h1", "h1", "tcp-option"), ("tls", "h2", "h2", "tcp-option"),
    ("plain", "h1", "h1", "tcp-option"), ("plain", "h1", "h1", "off")])
def test_go_chain_links_handler_to_its_calls_by_goroutine(sink, sensor_factory, procs, go_app, go_server,
                                                         transport, inbound, downstream, propagation):
    """Go client -> Go front (HTTP/1.1 or HTTP/2) -> Go back (HTTP/2 or
    HTTP/1.1), over TLS or in plaintext, 20 chains at once: one trace of four
    spans each, with exactly the expected parents. The front's calls are made
    by goroutines other than the handler's (HTTP/2: a goroutine per request,
    started by the handler; HTTP/1.1: the connection's write loop), tied to it
    by the goroutine probes; an HTTP/2 front runs each handler on a goroutine
    its frame reader did not start, tied to its stream by the runHandler
    probe. In plaintext with propagation on, the kernel decides the call's
    parent by the same goroutine evidence."""
    scheme = "https" if transport == "tls" else "http"
    tls = transport == "tls"
    sensor = sensor_factory(sink, ["--propagation", propagation])
    before = sensor.wait_stats(lambda st: "tls_files_hooked" in st)["tls_files_hooked"]
    back, _ = go_server(go_app["plain"], name="go_back", tls=tls)
    wait_hooked(sensor, go_app["plain"], before)
    front, front_proc = go_server(go_app["plain"], [f"{scheme}://127.0.0.1:{back}/hello", downstream], "go_front",
                                  tls=tls)
    client = procs.start([str(go_app["plain"]), "client", f"{scheme}://127.0.0.1:{front}/chain?n=", str(CHAINS),
                          inbound, str(CHAINS)], "go_client")
    assert read_line(client, timeout=60) == f"ok {CHAINS}"
    client_pid = client.pid

    def role(s):
        return chain_role(s, front, back, front_proc.pid, client_pid)
    spans = sink.wait_for(lambda s: role(s) is not None, 4 * CHAINS, timeout=30)
    by_chain = {}
    for s in spans:
        s["role"] = role(s)
        by_chain.setdefault(chain_n(s), []).append(s)
    correct = 0
    for n in range(CHAINS):
        chain = {}
        for s in by_chain.get(str(n), []):
            chain.setdefault(s["role"], []).append(s)
        if any(len(chain.get(r, [])) != 1 for r in SHAPE):
            continue
        one = {r: chain[r][0] for r in SHAPE}
        trace = one["client CLIENT"]["trace_id"]
        for i, r in enumerate(SHAPE):
            parent_ok = i == 0 or one[r]["parent_span_id"] == one[SHAPE[i - 1]]["span_id"]
            correct += int(parent_ok and one[r]["trace_id"] == trace)
        assert attr(one["front CLIENT"], "spanwire.link") == "goroutine", one["front CLIENT"]["attributes"]
        assert attr(one["front CLIENT"], "network.protocol.version") == ("2" if downstream == "h2" else "1.1")
    total = 4 * CHAINS
    if correct != total:
        for n in sorted(by_chain, key=str)[:3]:
            print(n, [(s["role"], s["span_id"], s["parent_span_id"], s["trace_id"][:8], attr(s, "spanwire.link"))
                      for s in by_chain[n]])
    print(f"\nGo chain ({transport}, {inbound} in, {downstream} out, propagation {propagation}, {CHAINS} concurrent): "
          f"{correct}/{total} spans linked correctly ({100.0 * correct / total:.1f}%)")
    assert correct == total
    if not (transport == "plain" and propagation == "tcp-option"):  # there the kernel decided them (spans_linked_wire)
        stats = sensor.wait_stats(lambda st: st["spans_linked_goroutine"] >= CHAINS)
        assert stats["spans_linked_goroutine"] >= CHAINS, stats
