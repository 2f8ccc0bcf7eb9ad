"""Secrets never leave the host. Requests carry planted secrets in every place
an HTTP request can: sensitive query parameters, credentials in an
absolute-form URL, Authorization and Cookie headers, other header values, and
the bodies of request and response. Every output of the sensor is then
searched for them: what the OTLP receiver got, the JSON lines file, the
terminal lines, and the sensor's own log."""
import socket
import time

from conftest import attr, curl, start_sensor, start_sink

SECRETS = {
    "query value": "QuerySecret1",
    "signature": "SigSecret2",
    "userinfo password": "PassSecret3",
    "authorization": "AuthSecret4",
    "cookie": "CookieSecret5",
    "other header": "HeaderSecret6",
    "request body": "BodySecret7",
}


def test_no_planted_secret_reaches_any_output(procs, build_dir, tmp_path, http_app):
    sink = start_sink(procs, build_dir, tmp_path, "grpc")
    json_out = tmp_path / "spans.jsonl"
    exporting = start_sensor(procs, build_dir, tmp_path, [
        "--otlp-endpoint", sink.endpoint, "--otlp-protocol", "grpc", "--batch-timeout-ms", "200",
        "--json-out", str(json_out), "--redact-query-param", "session"], name="exporting")
    # A second sensor prints its spans on the terminal (its stdout goes to its log).
    terminal = procs.start([str(build_dir / "spanwire"), "run", "--log-level", "info"], "terminal", stdout=None)
    deadline = time.monotonic() + 30
    while "hooks attached" not in terminal.log_path.read_text(errors="replace"):
        assert terminal.poll() is None and time.monotonic() < deadline, terminal.log_path.read_text()
        time.sleep(0.1)

    port, _ = http_app()
    base = f"http://127.0.0.1:{port}"
    curl(f"{base}/users/1?session={SECRETS['query value']}&X-Amz-Signature={SECRETS['signature']}&page=2",
         "-H", f"Authorization: Bearer {SECRETS['authorization']}",
         "-H", f"Cookie: sid={SECRETS['cookie']}",
         "-H", f"X-Custom: {SECRETS['other header']}")
    curl("-X", "POST", "--data-binary", f"payload={SECRETS['request body']}", f"{base}/echo")
    # An absolute-form request target with credentials, as a client talking to
    # a proxy may send it (curl would move them to a header: written by hand).
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET http://user:{SECRETS['userinfo password']}@origin.example/users/2?sig=x HTTP/1.1\r\n"
                     "Host: origin.example\r\nConnection: close\r\n\r\n".encode())
        while sock.recv(65536):
            pass

    spans = sink.wait_for(lambda s: attr(s, "url.path") in ("/users/1", "/echo", "/users/2"), 6, timeout=20)
    assert len(spans) >= 6, [s["name"] for s in spans]
    server = next(s for s in spans if attr(s, "url.path") == "/users/1" and s["kind"] == 2)
    assert attr(server, "url.query") == "session=REDACTED&X-Amz-Signature=REDACTED&page=2"
    proxied = next(s for s in spans if attr(s, "url.path") == "/users/2" and s["kind"] == 3)
    assert attr(proxied, "url.full") == "http://REDACTED:REDACTED@origin.example/users/2?sig=REDACTED"

    time.sleep(1.5)  # the terminal sensor prints as its spans are released
    procs.stop(exporting.proc)
    procs.stop(terminal)
    outputs = {
        "OTLP receiver": sink.out.read_text(),
        "JSON lines": json_out.read_text(),
        "terminal": terminal.log_path.read_text(errors="replace"),
        "sensor log": exporting.proc.log_path.read_text(errors="replace"),
    }
    assert "POST /echo" in outputs["terminal"] and "/users/1" in outputs["JSON lines"]
    for output, text in outputs.items():
        for where, secret in SECRETS.items():
            assert secret not in text, f"the {where} secret reached the {output} output"
