"""TLS end to end on real BPF: plaintext from OpenSSL's SSL_read/SSL_write
uprobes becomes the same spans as plaintext traffic (url.scheme=https), on both
sides, with no change to the traced programs; the ciphertext never reaches the
HTTP parsers."""
import os
import shutil
import subprocess

import pytest

from conftest import HERE, PYTHON, attr, cannot_run, free_port, read_line, start_nginx, wait_for_port

SERVER, CLIENT = 2, 3
SYSTEM_LIBSSL = "/usr/lib/x86_64-linux-gnu/libssl.so.3"


@pytest.fixture
def cert(tmp_path):
    """A throwaway self-signed certificate for 127.0.0.1."""
    key, crt = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(crt), "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True, timeout=60)
    return crt, key


@pytest.fixture
def nginx_https(procs, tmp_path, cert):
    """nginx serving tmp_path/www over HTTPS, HTTP/1.1 and HTTP/2 (ALPN)."""
    crt, key = cert
    www = tmp_path / "www"
    www.mkdir()
    (www / "page.html").write_bytes(b"<p>secret</p>\n" * 40)  # 560 bytes
    port = free_port()
    proc = start_nginx(procs, tmp_path, f"""    listen 127.0.0.1:{port} ssl http2;
    ssl_certificate {crt};
    ssl_certificate_key {key};
    root {www};""", "nginx_https")
    wait_for_port(port)
    return port, proc


def curl(*args):
    res = subprocess.run(["curl", "-sS", "-k", "-o", "/dev/null", "-w", "%{http_code} %{http_version}", *args],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    return res.stdout


def on_port(port):
    return lambda s: port in (attr(s, "network.local.port"), attr(s, "network.peer.port"))


def assert_clean_parsers(sensor):
    """Ciphertext never reached a parser: it was counted in the kernel, and the
    parsers report no errors and no skipped bytes."""
    stats = sensor.wait_stats(lambda st: st["kernel_tls_encrypted_bytes"] > 0)
    assert stats["kernel_tls_encrypted_bytes"] > 0
    for counter in ("http1_parse_errors", "http1_unparsed_bytes", "http2_parse_errors", "http2_unparsed_bytes"):
        assert stats[counter] == 0, (counter, stats)


def test_nginx_https_http1_and_http2_both_sides(sink, sensor_factory, nginx_https):
    port, nginx = nginx_https
    sensor = sensor_factory(sink)
    assert curl("--http1.1", f"https://127.0.0.1:{port}/page.html") == "200 1.1"
    assert curl("--http2", f"https://127.0.0.1:{port}/page.html?v=2") == "200 2"

    spans = sink.wait_for(lambda s: on_port(port)(s) and attr(s, "url.path") == "/page.html", 4)
    assert len(spans) == 4, [(s["name"], s["kind"]) for s in spans]
    by = {(s["kind"], attr(s, "network.protocol.version")): s for s in spans}
    assert set(by) == {(SERVER, "1.1"), (CLIENT, "1.1"), (SERVER, "2"), (CLIENT, "2")}
    for s in spans:
        assert s["name"] == "GET /page.html"
        assert attr(s, "url.scheme") == "https"
        assert attr(s, "http.response.status_code") == 200
        assert attr(s, "http.response.body.size") == 560
    servers = [s for s in spans if s["kind"] == SERVER]
    assert {s["resource"]["process.executable.name"] for s in servers} == {"nginx"}
    clients = [s for s in spans if s["kind"] == CLIENT]
    assert {s["resource"]["process.executable.name"] for s in clients} == {"curl"}
    assert attr(by[(CLIENT, "1.1")], "url.full") == f"https://127.0.0.1:{port}/page.html"
    # Both ends followed from the start: nginx's span is the child of curl's (plaintext offsets).
    for version in ("1.1", "2"):
        assert by[(SERVER, version)]["parent_span_id"] == by[(CLIENT, version)]["span_id"]
        assert by[(SERVER, version)]["trace_id"] == by[(CLIENT, version)]["trace_id"]
    assert attr(by[(CLIENT, "2")], "url.full") == f"https://127.0.0.1:{port}/page.html?v=2"
    assert attr(by[(SERVER, "2")], "url.query") == "v=2"

    stats = sensor.wait_stats(lambda st: st["kernel_tls_conns"] >= 4)
    assert stats["kernel_tls_conns"] >= 4
    assert_clean_parsers(sensor)


def test_python_https_server_started_before_sensor(sink, sensor_factory, procs, cert):
    crt, key = cert
    port = free_port()
    server = procs.start([PYTHON, str(HERE / "apps" / "http_app.py"), str(port), "127.0.0.1",
                          "--tls", str(crt), str(key)], "https_app")
    assert read_line(server) == "ready"
    wait_for_port(port)
    sensor = sensor_factory(sink)
    assert curl(f"https://127.0.0.1:{port}/users/7") == "200 1.1"
    assert curl("-X", "POST", "--data-binary", "x" * 5000, f"https://127.0.0.1:{port}/echo") == "200 1.1"

    spans = sink.wait_for(on_port(port), 4)
    assert sorted((s["kind"], s["name"]) for s in spans) == [
        (SERVER, "GET /users/{id}"), (SERVER, "POST /echo"), (CLIENT, "GET /users/{id}"), (CLIENT, "POST /echo")], \
        [s["name"] for s in spans]
    for s in spans:
        assert attr(s, "url.scheme") == "https"
    server_spans = [s for s in spans if s["kind"] == SERVER]
    assert {s["resource"]["process.pid"] for s in server_spans} == {server.pid}
    echo = [s for s in spans if attr(s, "url.path") == "/echo"]
    assert all(attr(s, "http.request.body.size") == 5000 for s in echo)
    assert all(attr(s, "http.response.body.size") == 5000 for s in echo)
    assert_clean_parsers(sensor)


def test_process_started_after_sensor_with_its_own_libssl(sink, sensor_factory, procs, cert, tmp_path, build_dir):
    """A library file no process mapped when the sensor started (a private copy of
    libssl, as a container would bring) is found after exec and hooked, without a
    restart; `spanwire doctor` lists it with its user."""
    if not os.path.exists(SYSTEM_LIBSSL):
        cannot_run(f"{SYSTEM_LIBSSL} not found (package libssl3)")
    private = tmp_path / "privlib"
    private.mkdir()
    shutil.copy(SYSTEM_LIBSSL, private / "libssl.so.3")
    crt, key = cert
    sensor = sensor_factory(sink)
    hooked_at_start = sensor.wait_stats(lambda st: "tls_files_hooked" in st)["tls_files_hooked"]
    port = free_port()
    env = dict(os.environ, LD_LIBRARY_PATH=str(private))
    server = procs.start([PYTHON, str(HERE / "apps" / "http_app.py"), str(port), "127.0.0.1",
                          "--tls", str(crt), str(key)], "https_app_late", env=env)
    assert read_line(server) == "ready"
    wait_for_port(port)
    maps = open(f"/proc/{server.pid}/maps").read()
    assert str(private / "libssl.so.3") in maps, "the server must use the private copy"
    # Hooked within about a second of its start.
    stats = sensor.wait_stats(lambda st: st["tls_files_hooked"] > hooked_at_start, timeout=5)
    assert stats["tls_files_hooked"] == hooked_at_start + 1, stats
    assert curl(f"https://127.0.0.1:{port}/hello") == "200 1.1"

    spans = sink.wait_for(lambda s: on_port(port)(s) and s["kind"] == SERVER, 1)
    assert len(spans) == 1
    assert spans[0]["resource"]["process.pid"] == server.pid
    assert attr(spans[0], "url.scheme") == "https"
    assert attr(spans[0], "url.path") == "/hello"

    doctor = subprocess.run([str(build_dir / "spanwire"), "doctor"], capture_output=True, text=True, timeout=60)
    assert doctor.returncode == 0, doctor.stderr
    lines = [l for l in doctor.stdout.splitlines() if str(private / "libssl.so.3") in l]
    assert lines and f"[{server.pid}]" in doctor.stdout, doctor.stdout


def test_statically_linked_openssl_is_hooked_in_the_executable(sink, sensor_factory, procs, nginx_https,
                                                               build_dir):
    """OpenSSL linked into the executable (as in Node.js): hooked by symbol in the
    executable, found after the process's exec."""
    port, _ = nginx_https
    sensor = sensor_factory(sink)
    hooked_at_start = sensor.wait_stats(lambda st: "tls_files_hooked" in st)["tls_files_hooked"]
    client = procs.start([str(build_dir / "tls_static_client"), str(port), "/page.html"], "tls_static_client",
                         stdin=subprocess.PIPE)
    assert read_line(client) == "ready"
    assert "libssl" not in open(f"/proc/{client.pid}/maps").read()
    stats = sensor.wait_stats(lambda st: st["tls_files_hooked"] > hooked_at_start, timeout=5)
    assert stats["tls_files_hooked"] == hooked_at_start + 1, stats
    client.stdin.write(b"go\n")
    client.stdin.flush()
    assert read_line(client, timeout=30) == "HTTP/1.1 200 OK"

    spans = sink.wait_for(lambda s: s["resource"]["process.pid"] == client.pid, 1)
    assert len(spans) == 1
    s = spans[0]
    assert s["kind"] == CLIENT
    assert s["name"] == "GET /page.html"
    assert attr(s, "url.full") == f"https://127.0.0.1:{port}/page.html"
    assert attr(s, "user_agent.original") == "tls_static_client"
    assert attr(s, "http.response.body.size") == 560
    # nginx's side of the same exchange, through the host's libssl.
    servers = sink.wait_for(lambda s: on_port(port)(s) and s["kind"] == SERVER, 1)
    assert len(servers) == 1 and attr(servers[0], "url.scheme") == "https"


def test_gnutls_client_through_libcurl_gnutls(sink, sensor_factory, nginx_https):
    """libcurl-gnutls (git, apt and many Debian tools): the uprobes on
    gnutls_record_send/recv give the client's plaintext; nginx's side comes
    from OpenSSL; both spans are https and linked."""
    lib = "/usr/lib/x86_64-linux-gnu/libcurl-gnutls.so.4"
    if not os.path.exists(lib):
        cannot_run(f"{lib} is missing: apt-get install libcurl3-gnutls (scripts/setup.sh does)")
    port, _ = nginx_https
    sensor = sensor_factory(sink)
    urls = [f"https://127.0.0.1:{port}/page.html?gnutls={i}" for i in range(3)]
    res = subprocess.run([PYTHON, str(HERE / "apps" / "gnutls_curl_client.py"), *urls], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.split("\n")[:3] == ["200 2"] * 3  # CURL_HTTP_VERSION_1_1 is reported as 2

    def query(s):  # servers carry url.query; clients url.full (semantic conventions)
        return attr(s, "url.query") or (attr(s, "url.full") or "").partition("?")[2]

    spans = sink.wait_for(lambda s: on_port(port)(s) and query(s).startswith("gnutls="), 6)
    clients = [s for s in spans if s["kind"] == CLIENT]
    servers = [s for s in spans if s["kind"] == SERVER]
    assert len(clients) == 3 and len(servers) == 3, [(s["kind"], query(s)) for s in spans]
    for c in clients:
        assert attr(c, "url.scheme") == "https"
        assert attr(c, "http.response.status_code") == 200
        assert attr(c, "http.response.body.size") == 560
        assert attr(c, "network.protocol.version") == "1.1"
    by_query = {query(s): s for s in servers}
    for c in clients:
        assert c["resource"]["process.executable.name"].startswith("python")
        server = by_query[query(c)]
        assert server["parent_span_id"] == c["span_id"] and server["trace_id"] == c["trace_id"]
    assert_clean_parsers(sensor)
