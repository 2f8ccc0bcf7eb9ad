"""PostgreSQL end to end: Debian's PostgreSQL 15 (initdb, then postgres -D,
as the postgres user, on loopback with its own data directory), psql,
psycopg2 (simple protocol) and asyncpg (extended protocol, named prepared
statements), plaintext and TLS; the real sensor on real BPF, spans received
by a real OTLP/gRPC receiver."""
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import PYTHON, attr, free_port, make_cert, read_line, resource_name, wait_for_port

SERVER, CLIENT = 2, 3
STATUS_ERROR = 2
PG_BIN = "/usr/lib/postgresql/15/bin"
AS_POSTGRES = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]


@pytest.fixture(params=["on"])
def postgres(request, procs, tmp_path):
    """A PostgreSQL server, TLS on unless the test asks for "off" through
    indirect parametrization; yields (port, server process)."""
    if not os.path.exists(f"{PG_BIN}/postgres"):
        pytest.fail("PostgreSQL 15 is missing: scripts/setup.sh installs it")
    # The server refuses to run as root: its directory belongs to postgres
    # (pytest's own directories are root's alone).
    base = tempfile.mkdtemp(prefix="spanwire-pg-", dir="/tmp")
    try:
        shutil.chown(base, "postgres", "postgres")
        data = os.path.join(base, "data")
        subprocess.run(AS_POSTGRES + [f"{PG_BIN}/initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"],
                       check=True, capture_output=True, timeout=120)
        cert, key = make_cert(tmp_path)
        for src, name in ((cert, "server.crt"), (key, "server.key")):
            dst = os.path.join(data, name)
            shutil.copy(src, dst)
            shutil.chown(dst, "postgres", "postgres")
            os.chmod(dst, 0o600)
        port = free_port()
        proc = procs.start(AS_POSTGRES + [f"{PG_BIN}/postgres", "-D", data, "-p", str(port), "-k", base,
                                          "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
                                          "-c", f"ssl={request.param}"],
                           "postgres", stdout=None)
        wait_for_port(port)
        psql(port, "CREATE TABLE items (id int PRIMARY KEY, name text)", sslmode="disable")
        yield port, proc
        procs.stop(proc)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def psql(port, *commands, sslmode="disable", check=True):
    args = ["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=0"]
    for c in commands:
        args += ["-c", c]
    env = dict(os.environ, PGSSLMODE=sslmode)
    out = subprocess.run(args, capture_output=True, timeout=30, env=env)
    if check:
        assert out.returncode == 0, out.stderr.decode()
    return out


def pg_spans(sink, count, predicate, timeout=15.0):
    return sink.wait_for(lambda s: attr(s, "db.system.name") == "postgresql" and predicate(s), count, timeout)


def by_kind(spans):
    return ([s for s in spans if s["kind"] == CLIENT], [s for s in spans if s["kind"] == SERVER])


def no_secret(sink, *secrets):
    for s in sink.spans():
        for secret in secrets:
            assert secret not in repr(s), (secret, s)


@pytest.mark.parametrize("sslmode", ["disable", "require"])
def test_psql_simple_queries_on_both_ends(sink, sensor_factory, postgres, sslmode):
    sensor = sensor_factory(sink)
    port, server = postgres
    psql(port, "INSERT INTO items VALUES (7, 'secret-widget')", "SELECT name FROM items WHERE id = 7",
         "SELECT * FROM no_such_table", sslmode=sslmode, check=False)

    def named(name):
        return lambda s: s["name"] == name and resource_name(s) in ("psql", "postgres")
    insert = pg_spans(sink, 2, named("INSERT items"))
    select = pg_spans(sink, 2, named("SELECT items"))
    failed = pg_spans(sink, 2, named("SELECT no_such_table"))
    for spans in (insert, select, failed):
        clients, servers = by_kind(spans)
        assert len(clients) == 1 and len(servers) == 1, spans
        c, s = clients[0], servers[0]
        assert resource_name(c) == "psql"
        # The server's span is the child of the client's: tuple and TCP
        # sequence in plaintext, plaintext offsets through TLS.
        assert s["parent_span_id"] == c["span_id"] and s["trace_id"] == c["trace_id"]
        for span in (c, s):
            assert attr(span, "db.namespace") == "postgres"
            assert attr(span, "server.port") == port
    assert attr(insert[0], "db.query.text") == "INSERT INTO items VALUES (?, ?)"
    assert attr(select[0], "db.query.text") == "SELECT name FROM items WHERE id = ?"
    assert attr(select[0], "db.collection.name") == "items"
    for s in failed:
        assert s["status_code"] == STATUS_ERROR
        assert attr(s, "db.response.status_code") == "42P01"
        assert attr(s, "error.type") == "42P01"
    no_secret(sink, "secret-widget")
    # Counters are rewritten every second: wait for the TLS switch to be counted.
    stats = sensor.wait_stats(lambda st: sslmode != "require"
                              or st.get("postgres_tls_connections", 0) >= 2)
    assert stats["postgres_parse_errors"] == 0, stats
    if sslmode == "require":
        assert stats["postgres_tls_connections"] >= 2, stats  # both ends switched


@pytest.mark.parametrize("postgres", ["off"], indirect=True)
def test_ssl_request_answered_n_continues_in_plaintext(sink, sensor_factory, postgres):
    """psql asks for TLS (sslmode=prefer), a server without it answers N, and
    the conversation goes on in plaintext on the same connection."""
    sensor = sensor_factory(sink)
    port, _ = postgres
    psql(port, "SELECT name FROM items WHERE id = 1", sslmode="prefer")
    spans = pg_spans(sink, 2, lambda s: s["name"] == "SELECT items")
    clients, servers = by_kind(spans)
    assert len(clients) == 1 and len(servers) == 1, spans
    assert servers[0]["parent_span_id"] == clients[0]["span_id"]
    for s in spans:
        assert attr(s, "db.namespace") == "postgres"
    stats = sensor.stats()
    assert stats["postgres_tls_connections"] == 0 and stats["postgres_parse_errors"] == 0, stats


def test_psycopg2_simple_protocol(sink, sensor_factory, postgres, procs):
    sensor_factory(sink)
    port, _ = postgres
    code = f"""
import psycopg2
c = psycopg2.connect(host='127.0.0.1', port={port}, user='postgres', dbname='postgres', sslmode='disable')
cur = c.cursor()
cur.execute("INSERT INTO items VALUES (%s, %s)", (11, 'psycopg-secret'))
cur.execute("UPDATE items SET name = %s WHERE id = %s", ('renamed-secret', 11))
c.commit()
c.close()
"""
    proc = procs.start([PYTHON, "-c", code], "psycopg2")
    assert proc.wait(timeout=30) == 0, proc.log_path.read_text()
    clients = pg_spans(sink, 4, lambda s: s["kind"] == CLIENT and s["resource"]["process.pid"] == proc.pid)
    names = [s["name"] for s in sorted(clients, key=lambda s: s["start"])]
    assert names == ["BEGIN", "INSERT items", "UPDATE items", "COMMIT"], names
    update = next(s for s in clients if s["name"] == "UPDATE items")
    assert attr(update, "db.query.text") == "UPDATE items SET name = ? WHERE id = ?"
    no_secret(sink, "psycopg-secret", "renamed-secret")


def test_asyncpg_extended_protocol_with_named_statements(sink, sensor_factory, postgres, procs):
    sensor = sensor_factory(sink)
    port, _ = postgres
    code = f"""
import asyncio, asyncpg
async def main():
    c = await asyncpg.connect(host='127.0.0.1', port={port}, user='postgres', database='postgres', ssl=False)
    await c.execute("INSERT INTO items VALUES (21, 'async-secret')")
    # Three Bind/Execute pairs before one Sync.
    await c.executemany('INSERT INTO items VALUES ($1, $2)', [(41, 'a-secret'), (42, 'b-secret'), (43, 'c-secret')])
    st = await c.prepare('SELECT name FROM items WHERE id = $1')
    for i in (21, 22, 23):
        await st.fetch(i)
    try:
        await c.fetch('SELECT * FROM missing_table WHERE id = $1', 1)
    except asyncpg.exceptions.UndefinedTableError:
        pass
    await c.close()
asyncio.run(main())
"""
    proc = procs.start([PYTHON, "-c", code], "asyncpg")
    assert proc.wait(timeout=30) == 0, proc.log_path.read_text()
    mine = lambda s: s["kind"] == CLIENT and s["resource"]["process.pid"] == proc.pid
    selects = pg_spans(sink, 3, lambda s: mine(s) and s["name"] == "SELECT items")
    assert len(selects) == 3
    for s in selects:
        assert attr(s, "db.query.text") == "SELECT name FROM items WHERE id = $1"
        assert attr(s, "db.namespace") == "postgres"
    inserts = pg_spans(sink, 3, lambda s: mine(s) and attr(s, "db.query.text") == "INSERT INTO items VALUES ($1, $2)")
    assert len(inserts) == 3
    failed = pg_spans(sink, 1, lambda s: mine(s) and s["name"] == "SELECT missing_table")
    assert len(failed) == 1 and attr(failed[0], "db.response.status_code") == "42P01"
    servers = pg_spans(sink, 3, lambda s: s["kind"] == SERVER and s["name"] == "SELECT items")
    assert {s["parent_span_id"] for s in servers} == {s["span_id"] for s in selects}
    no_secret(sink, "async-secret", "a-secret", "b-secret", "c-secret")


def test_pool_opened_before_the_sensor(sink, sensor_factory, postgres, procs):
    """Connections opened before the sensor: simple queries are traced; a
    statement prepared before it gives a flagged span, its text never guessed."""
    port, _ = postgres
    code = f"""
import asyncio, sys, asyncpg
async def main():
    c = await asyncpg.connect(host='127.0.0.1', port={port}, user='postgres', database='postgres', ssl=False)
    st = await c.prepare('SELECT name FROM items WHERE id = $1')
    print('connected', flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    await st.fetch(1)
    await c.execute('SELECT 42')
    print('done', flush=True)
    await c.close()
asyncio.run(main())
"""
    proc = procs.start([PYTHON, "-c", code], "pool", stdin=subprocess.PIPE)
    assert read_line(proc) == "connected"
    sensor = sensor_factory(sink)
    proc.stdin.write(b"go\n")
    proc.stdin.flush()
    assert read_line(proc) == "done"
    mine = lambda s: s["kind"] == CLIENT and s["resource"]["process.pid"] == proc.pid
    spans = pg_spans(sink, 2, mine)
    names = sorted(s["name"] for s in spans)
    assert names == ["SELECT", "postgresql"], names
    unknown = next(s for s in spans if s["name"] == "postgresql")
    assert attr(unknown, "spanwire.db.query.text_unknown") is True
    assert attr(unknown, "db.query.text") is None
    assert sensor.wait_stats(lambda st: st["postgres_statements_unknown"] >= 1)["postgres_statements_unknown"] >= 1
