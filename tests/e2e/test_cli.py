"""The command line a user meets first: help, version, and one clear line for
each start-up problem."""
import os
import shutil
import subprocess

from conftest import cannot_run


def run(build_dir, *args, user=None, env_extra=None):
    cmd = [str(build_dir / "spanwire"), *args]
    if user is not None:
        cmd = [shutil.which("setpriv"), f"--reuid={user}", f"--regid={user}", "--clear-groups",
               "--inh-caps=-all"] + cmd
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(env_extra or {})
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)


def error_lines(stderr):
    return [l for l in stderr.splitlines() if " error " in l]


def test_help_and_version(build_dir):
    res = run(build_dir, "--help")
    assert res.returncode == 0
    for word in ("run", "trace", "version"):
        assert word in res.stdout
    res = run(build_dir, "run", "--help")
    assert res.returncode == 0 and "--otlp-endpoint" in res.stdout and "--payload-cap" in res.stdout
    res = run(build_dir, "trace", "--help")
    assert res.returncode == 0 and "--json" in res.stdout and "--port" in res.stdout
    res = run(build_dir, "version")
    assert res.returncode == 0 and res.stdout.startswith("spanwire ")


def test_print_config_layers_sources_and_masks_secrets(build_dir, tmp_path):
    """Environment < config file < flags, shown with secrets masked, without loading BPF."""
    config = tmp_path / "spanwire.yaml"
    config.write_text("export:\n  endpoint: http://from-file:4318\n  compression: gzip\n"
                      "sampling:\n  sampler: traceidratio\n  ratio: 0.25\n")
    res = run(build_dir, "run", "--config", str(config), "--print-config", "--otlp-timeout-ms", "1234",
              env_extra={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://from-env:4317",
                         "OTEL_EXPORTER_OTLP_HEADERS": "api-key=TOPSECRET",
                         "OTEL_SERVICE_NAME": "from-env"})
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "http://from-file:4318/v1/traces" in out and "http://from-file:4318/v1/metrics" in out, out
    assert "from-env:4317" not in out
    assert "TOPSECRET" not in out and "api-key" in out and "****" in out, out
    assert "1234" in out and "gzip" in out and "0.25" in out and "from-env" in out, out
    # A bad file gives one line naming the file and the key.
    config.write_text("export:\n  endpiont: http://x:4318\n")
    res = run(build_dir, "run", "--config", str(config), "--print-config")
    assert res.returncode == 2 and "endpiont" in res.stderr and str(config) in res.stderr, res.stderr


def test_bad_values_give_one_line(build_dir):
    res = run(build_dir, "run", "--otlp-endpoint", "ftp://collector:4317")
    assert res.returncode == 2
    assert len(error_lines(res.stderr)) == 1 and "http://" in res.stderr
    res = run(build_dir, "run", "--ringbuf-size", "1000")
    assert res.returncode == 2 and "power of two" in res.stderr
    res = run(build_dir, "run", "--no-such-flag")
    assert res.returncode != 0 and "--no-such-flag" in res.stderr


def test_without_privileges_explains_what_is_missing(build_dir):
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        cannot_run("needs root and setpriv (util-linux) to drop to another user")
    res = run(build_dir, "run", user=65534)
    assert res.returncode == 2
    lines = error_lines(res.stderr)
    assert len(lines) == 1, res.stderr
    assert "CAP_BPF" in lines[0] and "CAP_PERFMON" in lines[0] and "root" in lines[0]
