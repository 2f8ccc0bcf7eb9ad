"""MySQL/MariaDB end to end: Debian's MariaDB (mariadb-install-db, then
mariadbd on loopback with its own data directory), the mariadb client and
PyMySQL (COM_QUERY), DBD::MariaDB with server-side prepared statements
(COM_STMT_PREPARE/EXECUTE/CLOSE), plaintext and TLS; the real sensor on real
BPF, spans received by a real OTLP/gRPC receiver."""
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import PYTHON, attr, free_port, make_cert, read_line, resource_name, wait_for_port

SERVER, CLIENT = 2, 3
STATUS_ERROR = 2


@pytest.fixture
def mariadb(procs, tmp_path):
    """A MariaDB server with TLS enabled and a database `shop`; yields (port, process)."""
    for tool in ("mariadb-install-db", "mariadbd", "mariadb"):
        if not shutil.which(tool):
            pytest.fail(f"{tool} is missing: scripts/setup.sh installs MariaDB")
    base = tempfile.mkdtemp(prefix="spanwire-mariadb-", dir="/tmp")
    try:
        data = os.path.join(base, "data")
        subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=root",
                        "--auth-root-authentication-method=normal", "--skip-test-db"],
                       check=True, capture_output=True, timeout=180)
        cert, key = make_cert(tmp_path)
        port = free_port()
        proc = procs.start(["mariadbd", "--no-defaults", f"--datadir={data}", f"--port={port}",
                            "--bind-address=127.0.0.1", f"--socket={base}/sock", "--user=root",
                            f"--pid-file={base}/pid", "--skip-grant-tables", f"--ssl-cert={cert}",
                            f"--ssl-key={key}"], "mariadbd", stdout=None)
        wait_for_port(port, timeout=60)
        client(port, "CREATE DATABASE shop; CREATE TABLE shop.items (id int PRIMARY KEY, name text)", database="")
        yield port, proc
        procs.stop(proc)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def client(port, sql, database="shop", ssl=False, check=True):
    args = ["mariadb", "--no-defaults", "-h", "127.0.0.1", "-P", str(port), "-u", "root"]
    args += ["--ssl", "--ssl-verify-server-cert=0"] if ssl else ["--skip-ssl"]
    if database:
        args.append(database)
    out = subprocess.run(args + ["-e", sql], capture_output=True, timeout=30)
    if check:
        assert out.returncode == 0, out.stderr.decode()
    return out


def db_spans(sink, count, predicate, timeout=15.0):
    return sink.wait_for(lambda s: attr(s, "db.system.name") == "mariadb" and predicate(s), count, timeout)


def no_secret(sink, *secrets):
    for s in sink.spans():
        for secret in secrets:
            assert secret not in repr(s), (secret, s)


@pytest.mark.parametrize("ssl", [False, True])
def test_mariadb_client_queries_on_both_ends(sink, sensor_factory, mariadb, ssl):
    sensor = sensor_factory(sink)
    port, server = mariadb
    client(port, "INSERT INTO items VALUES (7, 'secret-widget'); SELECT name FROM items WHERE id = 7; "
                 "SELECT * FROM no_such_table", ssl=ssl, check=False)
    for name in ("INSERT items", "SELECT items", "SELECT no_such_table"):
        spans = db_spans(sink, 2, lambda s, n=name: s["name"] == n)
        clients = [s for s in spans if s["kind"] == CLIENT]
        servers = [s for s in spans if s["kind"] == SERVER]
        assert len(clients) == 1 and len(servers) == 1, spans
        c, s = clients[0], servers[0]
        assert resource_name(c) == "mariadb" and s["resource"]["process.pid"] == server.pid
        assert s["parent_span_id"] == c["span_id"] and s["trace_id"] == c["trace_id"]
        for span in (c, s):
            assert attr(span, "db.namespace") == "shop"
            assert attr(span, "server.port") == port
    select = db_spans(sink, 1, lambda s: s["name"] == "SELECT items")[0]
    assert attr(select, "db.query.text") == "SELECT name FROM items WHERE id = ?"
    assert attr(select, "db.collection.name") == "items"
    for s in db_spans(sink, 2, lambda s: s["name"] == "SELECT no_such_table"):
        assert s["status_code"] == STATUS_ERROR
        assert attr(s, "db.response.status_code") == "1146"
    no_secret(sink, "secret-widget")
    # Counters are rewritten every second: wait for the TLS switch to be counted.
    stats = sensor.wait_stats(lambda st: not ssl or st.get("mysql_tls_connections", 0) >= 2)
    assert stats["mysql_parse_errors"] == 0, stats
    if ssl:
        assert stats["mysql_tls_connections"] >= 2, stats  # both ends switched


def test_pymysql_com_query(sink, sensor_factory, mariadb, procs):
    sensor_factory(sink)
    port, _ = mariadb
    code = f"""
import pymysql
c = pymysql.connect(host='127.0.0.1', port={port}, user='root', database='shop')
cur = c.cursor()
cur.execute("INSERT INTO items VALUES (%s, %s)", (11, 'pymysql-secret'))
cur.execute("UPDATE items SET name = %s WHERE id = %s", ('renamed-secret', 11))
c.commit()
c.close()
"""
    proc = procs.start([PYTHON, "-c", code], "pymysql")
    assert proc.wait(timeout=30) == 0, proc.log_path.read_text()
    mine = lambda s: s["kind"] == CLIENT and s["resource"]["process.pid"] == proc.pid
    spans = db_spans(sink, 3, mine)
    names = [s["name"] for s in sorted(spans, key=lambda s: s["start"])]
    assert names[-3:] == ["INSERT items", "UPDATE items", "COMMIT"], names
    update = next(s for s in spans if s["name"] == "UPDATE items")
    assert attr(update, "db.query.text") == "UPDATE items SET name = ? WHERE id = ?"
    no_secret(sink, "pymysql-secret", "renamed-secret")


PERL_PREPARED = r'''
use DBI;
my $d = DBI->connect("DBI:MariaDB:database=shop;host=127.0.0.1;port=%d;mariadb_server_prepare=1", "root", "",
                     {RaiseError => 1, PrintError => 0});
$d->do("INSERT INTO items VALUES (31, 'perl-secret')");
my $s = $d->prepare("SELECT name FROM items WHERE id = ?");
for my $i (31, 32, 33) { $s->execute($i); $s->fetchall_arrayref; }
$s->finish;
$d->disconnect;
'''


def test_server_side_prepared_statements(sink, sensor_factory, mariadb, procs):
    sensor = sensor_factory(sink)
    port, _ = mariadb
    proc = procs.start(["perl", "-e", PERL_PREPARED % port], "perl_prepared")
    assert proc.wait(timeout=30) == 0, proc.log_path.read_text()
    mine = lambda s: s["kind"] == CLIENT and s["resource"]["process.pid"] == proc.pid
    selects = db_spans(sink, 3, lambda s: mine(s) and s["name"] == "SELECT items")
    assert len(selects) == 3
    for s in selects:
        assert attr(s, "db.query.text") == "SELECT name FROM items WHERE id = ?"
    servers = db_spans(sink, 3, lambda s: s["kind"] == SERVER and s["name"] == "SELECT items")
    assert {s["parent_span_id"] for s in servers} >= {s["span_id"] for s in selects}
    stats = sensor.stats()
    assert stats["mysql_requests_unpaired_after_loss"] == 0 and stats["mysql_responses_orphaned"] == 0, stats
    no_secret(sink, "perl-secret")


def test_connection_opened_before_the_sensor(sink, sensor_factory, mariadb, procs):
    port, _ = mariadb
    code = f"""
import sys, pymysql
c = pymysql.connect(host='127.0.0.1', port={port}, user='root', database='shop')
print('connected', flush=True)
sys.stdin.readline()
cur = c.cursor()
cur.execute("SELECT name FROM items WHERE id = 99")
cur.execute("SELECT 42")
print('done', flush=True)
c.close()
"""
    proc = procs.start([PYTHON, "-c", code], "pool", stdin=subprocess.PIPE)
    assert read_line(proc) == "connected"
    sensor_factory(sink)
    proc.stdin.write(b"go\n")
    proc.stdin.flush()
    assert read_line(proc) == "done"
    # The server's kind is in the greeting the sensor missed: "mysql".
    spans = sink.wait_for(lambda s: attr(s, "db.system.name") == "mysql" and s["kind"] == CLIENT
                          and s["resource"]["process.pid"] == proc.pid, 2)
    assert sorted(s["name"] for s in spans) == ["SELECT", "SELECT items"], spans
