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
    stats = sensor.wait_stats(lambda st: st["stream_uncopied_bytes"] >= 65536)
    assert stats["stream_uncopied_bytes"] >= 65536 and stats["stream_gap_bytes"] == 0
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


def test_bodies_of_known_length_are_counted_not_copied(sink, sensor_factory, nginx, http_app, tmp_path):
    """The kernel copies heads and counts bodies of announced length
    (bpf/body_skip.bpf.h): sizes and statuses stay exact, a HEAD answer on the
    same connection (a length with no body) does not throw the count off, and
    a large request body is counted on both ends."""
    sensor = sensor_factory(sink)
    port, _ = nginx
    big = f"http://127.0.0.1:{port}/big.bin"
    # One keep-alive connection: GET, HEAD, GET of the 64 KiB file, then a small one.
    _, out = curl(big, "--next", "-I", big, "--next", big, "--next", f"http://127.0.0.1:{port}/small.txt")
    assert out.count(bytes(range(256)) * 256) == 2
    app_port, _ = http_app()
    payload = bytes(range(256)) * 1024  # 256 KiB
    (tmp_path / "payload.bin").write_bytes(payload)
    _, echoed = curl(f"http://127.0.0.1:{app_port}/echo", "-X", "POST", "--data-binary", f"@{tmp_path}/payload.bin",
                     "-H", "Content-Type: application/octet-stream")
    assert echoed == payload

    gets = sink.wait_for(lambda s: attr(s, "url.path") == "/big.bin" and attr(s, "http.request.method") == "GET", 4)
    for s in gets:
        assert attr(s, "http.response.status_code") == 200
        assert attr(s, "http.response.body.size") == 65536
    heads = sink.wait_for(lambda s: attr(s, "http.request.method") == "HEAD", 2)
    for s in heads:
        assert attr(s, "http.response.status_code") == 200
        assert attr(s, "http.response.body.size") == 0
    small = spans_for(sink, "/small.txt", 2)
    assert sorted(attr(s, "http.response.body.size") for s in small) == [11, 11]
    posts = spans_for(sink, "/echo", 2)
    for s in posts:
        assert attr(s, "http.request.body.size") == len(payload)
        assert attr(s, "http.response.body.size") == len(payload)
        assert attr(s, "http.response.status_code") == 200

    # curl's reads of the two 64 KiB bodies and both ends of the 256 KiB
    # request and answer went uncopied, past the call that carried each head.
    stats = sensor.wait_stats(lambda st: st["kernel_body_bytes_skipped"] >= 4 * 128 * 1024)
    assert stats["kernel_body_bytes_skipped"] >= 4 * 128 * 1024, stats
    assert stats["http1_resyncs"] == 0
    assert stats["http1_requests_unpaired_after_loss"] == 0 and stats["http1_responses_unpaired_after_loss"] == 0


def test_pipelined_head_inside_a_write_loses_no_exchange(sink, sensor_factory, nginx):
    """A HEAD request the kernel cannot see (pipelined after a GET in one
    write) is answered with a length and no body: the kernel takes that
    length for a body, and the next answer, which starts a read, is copied
    anyway (its first bytes begin a message). No exchange is lost."""
    sensor = sensor_factory(sink)
    port, _ = nginx
    def request(method, path):
        return f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    def read_until(sock, done):
        data = b""
        while not done(data):
            chunk = sock.recv(65536)
            assert chunk, "connection closed early"
            data += chunk
        return data
    file = bytes(range(256)) * 256
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        # The HEAD answer is the last bytes on the wire: the read that ends
        # with them ends with its head, whose length the kernel takes.
        sock.sendall(request("GET", "/big.bin") + request("HEAD", "/big.bin"))
        read_until(sock, lambda d: file in d and d.count(b"HTTP/1.1 200") == 2 and d.endswith(b"\r\n\r\n"))
        sock.sendall(request("GET", "/small.txt"))
        read_until(sock, lambda d: d.endswith(b"small file\n"))
        sock.sendall(request("GET", "/big.bin"))
        read_until(sock, lambda d: file in d)

    gets = sink.wait_for(lambda s: attr(s, "url.path") == "/big.bin" and attr(s, "http.request.method") == "GET", 4)
    for s in gets:
        assert attr(s, "http.response.body.size") == 65536
    heads = sink.wait_for(lambda s: attr(s, "http.request.method") == "HEAD", 2)
    assert [attr(s, "http.response.body.size") for s in heads] == [0, 0]
    small = spans_for(sink, "/small.txt", 2)
    assert sorted(attr(s, "http.response.body.size") for s in small) == [11, 11]
    # The kernel met the last answer where it expected the HEAD answer's body.
    stats = sensor.wait_stats(lambda st: st["kernel_body_cut_short"] >= 1)
    assert stats["kernel_body_cut_short"] >= 1, stats
    assert stats["http1_resyncs"] == 0, stats
    assert stats["http1_requests_unpaired_after_loss"] == 0 and stats["http1_responses_unpaired_after_loss"] == 0
