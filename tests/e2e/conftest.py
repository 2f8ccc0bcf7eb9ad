"""End-to-end fixtures: the real sensor binary on real BPF, a real OTLP/gRPC
receiver (build/otlp_sink), and real servers and clients on loopback.

Every process a test starts is stopped by its PID when the test ends, and
every wait is bounded.
"""
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "support"))
from loopback import free_port, wait_for_port  # noqa: E402,F401  (re-exported to the tests)
from processes import Processes  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
PYTHON = "/usr/bin/python3"  # Debian's python: the one the tests' apps are written for


def under_ci():
    """CI sets CI (true, 1, yes); there a test that cannot run is a failure."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def cannot_run(reason):
    """A test whose environment cannot run it: outside CI it is skipped with a
    banner no one can miss; under CI it fails, so that a run where BPF (or a
    tool a test needs) is missing can never be green."""
    if under_ci():
        pytest.fail(f"CANNOT RUN UNDER CI: {reason}", pytrace=False)
    msg = f"END-TO-END TEST SKIPPED: {reason}"
    print("\n" + "!" * 80 + "\n" + msg + "\n" + "!" * 80, file=sys.stderr)
    pytest.skip(msg)


def pytest_addoption(parser):
    parser.addoption("--build-dir", default=str(HERE.parent.parent / "build"))


@pytest.fixture(scope="session")
def build_dir(request):
    d = pathlib.Path(request.config.getoption("--build-dir")).resolve()
    for exe in ("spanwire", "otlp_sink"):
        if not (d / exe).exists():
            pytest.fail(f"{d / exe} is missing: build first (scripts/build.sh)")
    return d


@pytest.fixture
def procs(tmp_path):
    p = Processes(tmp_path)
    yield p
    p.stop_all()


def read_line(proc, timeout=20.0):
    """One stdout line of proc, waiting at most timeout seconds.

    Reads the pipe with os.read into a per-process buffer: select() on a pipe
    says nothing about lines Python's own buffered reader already holds.
    """
    import selectors
    buf = proc.__dict__.setdefault("_line_buffer", bytearray())
    deadline = time.monotonic() + timeout
    fd = proc.stdout.fileno()
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while b"\n" not in buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not sel.select(remaining):
                raise TimeoutError(f"no output line from pid {proc.pid} within {timeout}s")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise EOFError(f"pid {proc.pid} closed its output")
            buf += chunk
    line, _, rest = bytes(buf).partition(b"\n")
    buf[:] = rest
    return line.decode(errors="replace").strip()


class Sink:
    """A real OTLP receiver (build/otlp_sink for gRPC, otlp_http_receiver.py for
    HTTP/protobuf) and the spans it wrote, one JSON line each."""

    def __init__(self, proc, port, out, kind="grpc", tls=False, status_path=None):
        self.proc, self.port, self.out = proc, port, out
        self.kind, self.tls, self.status_path = kind, tls, status_path

    @property
    def endpoint(self):
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def protocol(self):
        return "grpc" if self.kind == "grpc" else "http/protobuf"

    def status(self):
        try:
            return json.loads(self.status_path.read_text())
        except (FileNotFoundError, json.JSONDecodeError, AttributeError):
            return {}

    def spans(self):
        if not self.out.exists():
            return []
        # The receiver may be writing as we read: only complete lines count.
        text = self.out.read_text()
        complete = text[:text.rfind("\n") + 1]
        return [json.loads(line) for line in complete.splitlines() if line.strip()]

    def wait_for(self, predicate, count, timeout=15.0):
        """Spans matching predicate once at least `count` of them have arrived."""
        deadline = time.monotonic() + timeout
        while True:
            found = [s for s in self.spans() if predicate(s)]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.1)


def start_sink(procs, build_dir, tmp_path, kind="grpc", args=(), port=0, name=None, tls=False):
    """Starts an OTLP receiver ("grpc": otlp_sink, "http": otlp_http_receiver.py)
    on 127.0.0.1:port (0: a free one). `args` are the receiver's own options;
    with tls=True it serves TLS with make_cert()'s certificate."""
    name = name or f"sink_{kind}"
    out = tmp_path / f"{name}.jsonl"
    status = tmp_path / f"{name}-status.json"
    if kind == "grpc":
        cmd = [str(build_dir / "otlp_sink")]
    else:
        cmd = [PYTHON, str(HERE / "otlp_http_receiver.py")]
    cmd += ["--listen", f"127.0.0.1:{port}", "--out", str(out), "--status-file", str(status), *args]
    if tls:
        cert, key = make_cert(tmp_path)
        cmd += ["--tls-cert", str(cert), "--tls-key", str(key)]
    proc = procs.start(cmd, name)
    line = read_line(proc)
    assert line.startswith("listening "), line
    return Sink(proc, int(line.rsplit(":", 1)[1]), out, kind, tls, status)


def make_cert(tmp_path):
    """A self-signed certificate for 127.0.0.1 (and localhost); returns (cert, key)."""
    cert, key = tmp_path / "collector-cert.pem", tmp_path / "collector-key.pem"
    if not cert.exists():
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                        "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    return cert, key


@pytest.fixture
def sink(procs, build_dir, tmp_path):
    return start_sink(procs, build_dir, tmp_path)


class Sensor:
    def __init__(self, proc, stats_path):
        self.proc, self.stats_path = proc, stats_path

    def stats(self):
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                return json.loads(self.stats_path.read_text())
            except (FileNotFoundError, json.JSONDecodeError):
                time.sleep(0.1)
        raise TimeoutError("sensor wrote no stats file")

    def wait_stats(self, predicate, timeout=5.0):
        """The counters once predicate(counters) holds (they are rewritten every second)."""
        deadline = time.monotonic() + timeout
        stats = self.stats()
        while not predicate(stats) and time.monotonic() < deadline:
            time.sleep(0.2)
            stats = self.stats()
        return stats


def start_sensor(procs, build_dir, tmp_path, args, name="spanwire", env_extra=None):
    """Starts `spanwire run ARGS` and waits until its probes are attached.

    When the kernel or the environment cannot run BPF at all, the test fails
    under CI and is skipped loudly elsewhere (cannot_run).
    """
    stats = tmp_path / f"{name}-stats.json"
    cmd = [str(build_dir / "spanwire"), "run", "--stats-file", str(stats), "--log-level", "info"] + args
    # The test decides where spans go: no OTEL_* from the caller's environment.
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(env_extra or {})
    proc = procs.start(cmd, name, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        log = proc.log_path.read_text(errors="replace")
        if "tracing:" in log and "hooks attached" in log:
            return Sensor(proc, stats)
        if proc.poll() is not None:
            if os.geteuid() != 0 or "missing capabilities" in log or "exposes no BTF" in log:
                cannot_run(f"BPF unavailable: {log.strip()}")
            pytest.fail(f"sensor exited with {proc.returncode} before attaching:\n{log}")
        time.sleep(0.1)
    pytest.fail(f"sensor did not attach within 30s:\n{proc.log_path.read_text()}")


@pytest.fixture
def sensor_factory(procs, build_dir, tmp_path):
    def factory(sink, extra=(), env_extra=None):
        return start_sensor(procs, build_dir, tmp_path,
                            ["--otlp-endpoint", sink.endpoint, "--otlp-protocol", sink.protocol,
                             "--batch-timeout-ms", "200", *extra], env_extra=env_extra)
    return factory


@pytest.fixture
def http_app(procs):
    """Starts tests/e2e/apps/http_app.py on a free port; returns the port."""
    def start(name="http_app", host="127.0.0.1"):
        port = free_port()
        proc = procs.start([PYTHON, str(HERE / "apps" / "http_app.py"), str(port), host], name)
        assert read_line(proc) == "ready"
        wait_for_port(port)
        return port, proc
    return start


def curl(*args, timeout=20):
    """Runs curl; returns (pid, stdout). Never reuses anything between calls."""
    curl_bin = shutil.which("curl")
    proc = subprocess.Popen([curl_bin, "-sS", "--max-time", "10", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"curl {args} failed: {err.decode()}"
    return proc.pid, out


def start_nginx(procs, tmp_path, server_block, name="nginx"):
    """The Debian nginx in the foreground, its state under tmp_path, serving one
    server block (the caller's listen/root/ssl directives)."""
    conf = tmp_path / f"{name}.conf"
    conf.write_text(f"""
daemon off;
user root;  # the worker reads pytest's private temp dir
worker_processes 1;
pid {tmp_path}/{name}.pid;
error_log {tmp_path}/{name}-error.log;
events {{ worker_connections 64; }}
http {{
  access_log off;
  sendfile on;
  keepalive_timeout 30;
  client_body_temp_path {tmp_path}/body;
  proxy_temp_path {tmp_path}/proxy;
  fastcgi_temp_path {tmp_path}/fastcgi;
  uwsgi_temp_path {tmp_path}/uwsgi;
  scgi_temp_path {tmp_path}/scgi;
  server {{
{server_block}
  }}
}}
""")
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    return procs.start([binary, "-c", str(conf), "-p", str(tmp_path), "-e", f"{tmp_path}/{name}-error.log"], name)


def resource_name(span):
    return span["resource"].get("process.executable.name", "")


def attr(span, key):
    return span["attributes"].get(key)
