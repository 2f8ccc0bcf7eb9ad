"""HTTP/1 end to end beyond Python: IPv6 and IPv4-mapped sockets, nginx,
whose responses go out with writev (headers) and sendfile (body), and a
request written as 200 iovecs in one sendmsg."""
import os
import socket

import pytest

from conftest import attr, curl, wait_for_port, free_port, resource_name, start_nginx

SERVER, CLIENT = 2, 3


def spans_for(sink, path, count, timeout=15.0):
    return sink.wait_for(lambda s: attr(s, "url.path") == path, count, timeout)


def test_ipv6_and_ipv4_mapped(sink, sensor_factory, http_app):
    sensor_factory(sink)
    port, _ = http_app("dual_stack_app", host="::")
    curl("-g", f"http://[::1]:{port}/users/6")
    curl(f"http://127.0.0.1:{port}/users/4")

    v6 = spans_for(sink, "/users/6", 2)
    assert sorted(s["kind"] for s in v6) == [SERVER, CLIENT]
    for s in v6:
        assert attr(s, "network.peer.address") == "::1"
        assert attr(s, "http.response.status_code") == 200
    client6 = next(s for s in v6 if s["kind"] == CLIENT)
    assert attr(client6, "server.address") == "::1"
    assert attr(client6, "url.full") == f"http://[::1]:{port}/users/6"

    mapped = spans_for(sink, "/users/4", 2)
    server4 = next(s for s in mapped if s["kind"] == SERVER)
    # The server's socket is IPv6; its IPv4 peer is reported as plain IPv4.
    assert attr(server4, "network.peer.address") == "127.0.0.1"
    assert attr(server4, "client.address") == "127.0.0.1"
    assert attr(server4, "network.local.port") == port


@pytest.fixture
def nginx(procs, tmp_path):
    """nginx (Debian package) serving tmp_path/www on a free loopback port."""
    www = tmp_path / "www"
    www.mkdir()
    (www / "small.txt").write_bytes(b"small file\n")
    (www / "big.bin").write_bytes(bytes(range(256)) * 256)  # 64 KiB
    port = free_port()
    proc = start_nginx(procs, tmp_path, f"    listen 127.0.0.1:{port};\n    root {www};")
    wait_for_port(port)
    return port, proc


def test_nginx_static_files_with_sendfile(sink, sensor_factory, nginx):
    sensor = sensor_factory(sink)
    port, _ = nginx
    # One keep-alive connection: small file, 64 KiB file (sendfile), a 404.
    _, out = curl(f"http://127.0.0.1:{port}/small.txt", f"http://127.0.0.1:{port}/big.bin",
                  f"http://127.0.0.1:{port}/missing")
    assert len(out) > 65536

    big = spans_for(sink, "/big.bin", 2)
    servers = [s for s in big if s["kind"] == SERVER]
    clients = [s for s in big if s["kind"] == CLIENT]
    assert len(servers) == 1 and len(clients) == 1
    assert resource_name(servers[0]) == "nginx"
    for s in big:
        assert attr(s, "http.response.status_code") == 200
        assert attr(s, "http.response.body.size") == 65536

    small = spans_for(sink, "/small.txt", 2)
    assert sorted(attr(s, "http.response.body.size") for s in small) == [11, 11]
    missing = spans_for(sink, "/missing", 2)
    assert sorted(attr(s, "http.response.status_code") for s in missing) == [404, 404]
    # nginx's body bytes were never copied (sendfile): a known gap, not a loss.
    stats = sensor.wait_stats(lambda st: st["stream_gap_bytes"] >= 65536)
    assert stats["stream_gap_bytes"] >= 65536
    assert stats["http1_resyncs"] == 0


def test_request_written_as_200_iovecs_in_one_sendmsg(sink, sensor_factory, http_app):
    """Every iovec a syscall moved is gathered into its data event: a request
    head split over 200 iovecs parses whole, on the client and server side."""
    sensor = sensor_factory(sink)
    port, _ = http_app()
    head = (b"GET /users/200 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + b"".join(b"X-Pad-%03d: v\r\n" % i for i in range(40)) + b"Connection: close\r\n\r\n")
    step = len(head) // 200 + 1
    pieces = [head[i:i + step] for i in range(0, len(head), step)]
    pieces += [b""] * (200 - len(pieces))  # empty iovecs move no bytes and must not confuse the walk
    assert len(pieces) == 200
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        assert sock.sendmsg(pieces) == len(head)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 200"), reply[:100]
    spans = spans_for(sink, "/users/200", 2)
    assert sorted(s["kind"] for s in spans) == [SERVER, CLIENT], spans
    for s in spans:
        assert attr(s, "http.request.method") == "GET"
        assert attr(s, "http.response.status_code") == 200
    client = next(s for s in spans if s["kind"] == CLIENT)
    assert client["resource"]["process.pid"] == os.getpid()
    stats = sensor.stats()
    assert stats["kernel_iov_truncated"] == 0, stats
