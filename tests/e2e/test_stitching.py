"""Stitching end to end on real BPF: curl -> frontend -> backend -> nginx, each
tier a separate process with no tracing code, becomes one trace of six spans
with exactly the expected parent links: server under its same-host client
(tuple + TCP sequence), call under the request its thread was serving.

Every test runs twice: with the kernel deciding the ids and carrying them in
the TCP option (the default), and with --propagation off, where the linker's
userspace rules do the same work."""
import subprocess
import threading

import pytest

from conftest import HERE, PYTHON, attr, free_port, read_line, start_nginx, wait_for_port

SERVER, CLIENT = 2, 3
CHAINS = 20
SHAPE = ["curl CLIENT", "frontend SERVER", "frontend CLIENT", "backend SERVER", "backend CLIENT", "nginx SERVER"]


@pytest.fixture(params=["tcp-option", "off"])
def propagation(request):
    return request.param


@pytest.fixture
def sensor_factory(sensor_factory, propagation):
    """The conftest factory, with this run's --propagation."""
    return lambda sink, extra=(), env_extra=None: sensor_factory(sink, ["--propagation", propagation, *extra],
                                                                 env_extra)


def expected_links(propagation):
    server = "tcp-option" if propagation == "tcp-option" else "tuple"
    return {"curl CLIENT": None, "frontend SERVER": server, "frontend CLIENT": "thread",
            "backend SERVER": server, "backend CLIENT": "thread", "nginx SERVER": server}


def server_links(stats):
    """Server spans linked under their client, by the kernel's ids or by the tuple rule."""
    return stats["spans_linked_tuple"] + stats["spans_linked_wire"]


@pytest.fixture
def chain(procs, tmp_path):
    """Starts nginx, backend and frontend; returns a function (threaded) -> ports and pids."""
    def start(threaded=False):
        www = tmp_path / "www"
        www.mkdir()
        (www / "leaf.txt").write_bytes(b"leaf\n")
        nginx_port, backend_port, frontend_port = free_port(), free_port(), free_port()
        start_nginx(procs, tmp_path, f"    listen 127.0.0.1:{nginx_port};\n    root {www};")
        wait_for_port(nginx_port)
        extra = ["--threaded"] if threaded else []
        backend = procs.start([PYTHON, str(HERE / "apps" / "chain_app.py"), str(backend_port),
                               f"http://127.0.0.1:{nginx_port}/leaf.txt", *extra], "backend")
        frontend = procs.start([PYTHON, str(HERE / "apps" / "chain_app.py"), str(frontend_port),
                                f"http://127.0.0.1:{backend_port}/chain", *extra], "frontend")
        for proc, port in ((backend, backend_port), (frontend, frontend_port)):
            assert read_line(proc) == "ready"
            wait_for_port(port)
        return {"nginx": nginx_port, "backend": backend_port, "frontend": frontend_port,
                "backend_pid": backend.pid, "frontend_pid": frontend.pid}
    return start


def run_curl(url, headers=()):
    args = ["curl", "-sS", "--max-time", "20", "-o", "/dev/null", "-w", "%{http_code}"]
    for h in headers:
        args += ["-H", h]
    res = subprocess.run(args + [url], capture_output=True, text=True, timeout=30)
    assert res.returncode == 0 and res.stdout == "200", (res.stdout, res.stderr)


def role(span, c):
    """Which of the six chain spans this is, or None for other traffic."""
    kind, pid = span["kind"], span["resource"]["process.pid"]
    local, peer = attr(span, "network.local.port"), attr(span, "network.peer.port")
    if kind == CLIENT and span["resource"].get("process.executable.name") == "curl" and peer == c["frontend"]:
        return "curl CLIENT"
    if kind == SERVER and local == c["frontend"]:
        return "frontend SERVER"
    if kind == CLIENT and pid == c["frontend_pid"] and peer == c["backend"]:
        return "frontend CLIENT"
    if kind == SERVER and local == c["backend"]:
        return "backend SERVER"
    if kind == CLIENT and pid == c["backend_pid"] and peer == c["nginx"]:
        return "backend CLIENT"
    if kind == SERVER and local == c["nginx"]:
        return "nginx SERVER"
    return None


def chain_id(span):
    """The n=... query each request carries down the chain."""
    text = attr(span, "url.query") or attr(span, "url.full") or ""
    return text.split("n=")[-1] if "n=" in text else None


def check_chain(spans):
    """Number of the six spans whose trace and parent are right (6 = a perfect trace)."""
    by_role = {}
    for s in spans:
        by_role.setdefault(s["role"], []).append(s)
    if any(len(by_role.get(r, [])) != 1 for r in SHAPE):
        return 0
    one = {r: by_role[r][0] for r in SHAPE}
    trace = one["curl CLIENT"]["trace_id"]
    correct = 0
    for i, r in enumerate(SHAPE):
        s = one[r]
        parent_ok = i == 0 or s["parent_span_id"] == one[SHAPE[i - 1]]["span_id"]
        correct += int(parent_ok and s["trace_id"] == trace)
    return correct


def collect(sink, c, expected):
    spans = sink.wait_for(lambda s: role(s, c) is not None, expected, timeout=30)
    for s in spans:
        s["role"] = role(s, c)
    return spans


def test_one_request_is_one_trace_of_six_spans(sink, sensor_factory, chain, propagation):
    c = chain()
    sensor = sensor_factory(sink)
    run_curl(f"http://127.0.0.1:{c['frontend']}/chain?n=1")
    spans = collect(sink, c, 6)
    assert sorted(s["role"] for s in spans) == sorted(SHAPE), [s["role"] for s in spans]
    assert len({s["trace_id"] for s in spans}) == 1
    assert check_chain(spans) == 6, [(s["role"], s["span_id"], s["parent_span_id"]) for s in spans]
    links = {s["role"]: attr(s, "spanwire.link") for s in spans}
    assert links == expected_links(propagation)
    curl_span = next(s for s in spans if s["role"] == "curl CLIENT")
    assert curl_span["parent_span_id"] in ("", "0" * 16)  # a root
    stats = sensor.wait_stats(lambda st: server_links(st) >= 5)
    assert server_links(stats) + stats["spans_linked_thread"] >= 5


def test_traceparent_decides_the_trace_of_all_six(sink, sensor_factory, chain):
    c = chain()
    sensor_factory(sink)
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    run_curl(f"http://127.0.0.1:{c['frontend']}/chain?n=7", [f"traceparent: 00-{trace_id}-{parent_id}-01"])
    spans = collect(sink, c, 6)
    assert {s["trace_id"] for s in spans} == {trace_id}
    assert check_chain(spans) == 6
    curl_span = next(s for s in spans if s["role"] == "curl CLIENT")
    assert curl_span["parent_span_id"] == parent_id
    assert attr(curl_span, "spanwire.link") == "traceparent"
    assert all(s["span_id"] != parent_id for s in spans)  # our own ids, never the header's


def test_unsampled_traceparent_drops_the_whole_chain(sink, sensor_factory, chain):
    """The default sampler (parentbased_always_on) follows an unsampled
    traceparent for all six spans: with the kernel deciding the ids (which
    the linker then releases at once, judged by the flags the kernel carried
    down the chain) and with the linker's rules (judged by the tree)."""
    c = chain()
    sensor = sensor_factory(sink)
    unsampled, sampled = "4bf92f3577b34da6a3ce929d0e0e4736", "0af7651916cd43dd8448eb211c80319c"
    run_curl(f"http://127.0.0.1:{c['frontend']}/chain?n=80", [f"traceparent: 00-{unsampled}-00f067aa0ba902b7-00"])
    run_curl(f"http://127.0.0.1:{c['frontend']}/chain?n=81", [f"traceparent: 00-{sampled}-00f067aa0ba902b7-01"])
    spans = collect(sink, c, 6)  # the sampled chain, which came second
    assert {s["trace_id"] for s in spans} == {sampled} and check_chain(spans) == 6, \
        [(s["role"], s["trace_id"][:6], chain_id(s), attr(s, "spanwire.link")) for s in spans]
    stats = sensor.wait_stats(lambda st: st.get("spans_sampled_out_head", 0) >= 6)
    assert [s for s in sink.spans() if s["trace_id"] == unsampled or chain_id(s) == "80"] == []
    assert stats["spans_sampled_out_head"] == 6, stats


@pytest.mark.parametrize("threaded", [False, True], ids=["single_thread_frontend", "threaded_frontend"])
def test_twenty_concurrent_chains_are_twenty_traces(sink, sensor_factory, chain, threaded):
    c = chain(threaded)
    sensor = sensor_factory(sink)
    threads = [threading.Thread(target=run_curl, args=(f"http://127.0.0.1:{c['frontend']}/chain?n={i}",))
               for i in range(CHAINS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    spans = collect(sink, c, 6 * CHAINS)
    by_chain = {}
    for s in spans:
        by_chain.setdefault(chain_id(s), []).append(s)
    correct = sum(check_chain(by_chain.get(str(i), [])) for i in range(CHAINS))
    total = 6 * CHAINS
    traces = {s["trace_id"] for s in spans}
    print(f"\nSTITCHING CORRECTNESS ({'threaded' if threaded else 'single-thread'} frontend, "
          f"{CHAINS} concurrent chains): {correct}/{total} spans linked correctly "
          f"({100.0 * correct / total:.1f}%), {len(traces)} traces")
    stats = sensor.wait_stats(lambda st: server_links(st) >= 3 * CHAINS)
    print(f"linker counters: tuple={stats['spans_linked_tuple']} wire={stats['spans_linked_wire']} "
          f"thread={stats['spans_linked_thread']} "
          f"ambiguous={stats['spans_link_ambiguous']} unlinked_calls={stats['calls_unlinked']} "
          f"too_late={stats['links_too_late']} conflicts={stats['link_conflicts']}")
    assert len(spans) == total
    assert correct == total
    assert len(traces) == CHAINS
    for i in range(CHAINS):
        assert len({s["trace_id"] for s in by_chain[str(i)]}) == 1
