"""The command line a user meets first: help, version, and one clear line for
each start-up problem."""
import os
import shutil
import subprocess
import time

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
    # Bad flags and bad flag values: one line and exit status 2, as the README says.
    for args in (["run", "--no-such-flag"], ["run", "--payload-cap", "lots"], ["run", "--pid"], ["nonsense"], []):
        res = run(build_dir, *args)
        assert res.returncode == 2, (args, res.returncode, res.stderr)
        assert len(res.stderr.strip().splitlines()) == 1, (args, res.stderr)
    assert "--no-such-flag" in run(build_dir, "run", "--no-such-flag").stderr


def test_without_privileges_explains_what_is_missing(build_dir):
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        cannot_run("needs root and setpriv (util-linux) to drop to another user")
    res = run(build_dir, "run", user=65534)
    assert res.returncode == 2
    lines = error_lines(res.stderr)
    assert len(lines) == 1, res.stderr
    assert "CAP_BPF" in lines[0] and "CAP_PERFMON" in lines[0] and "root" in lines[0]


def test_a_process_filter_the_kernel_cannot_hold_is_a_startup_error(build_dir):
    """The kernel's name filter holds 64 names. A 65th that could not be
    written used to leave the filter on with names missing: the sensor ran
    and silently traced nothing of those processes."""
    if os.geteuid() != 0:
        cannot_run("needs root to load the sensor's BPF programs")
    args = [a for i in range(65) for a in ("--comm", f"proc{i}")]
    res = run(build_dir, "run", *args)
    assert res.returncode == 2, res.stderr
    lines = error_lines(res.stderr)
    assert len(lines) == 1 and "--comm filter" in lines[0] and "64" in lines[0], res.stderr


def test_an_unwritable_stats_file_is_counted_and_logged_once(build_dir, tmp_path):
    if os.geteuid() != 0:
        cannot_run("needs root to load the sensor's BPF programs")
    stats = tmp_path / "no-such-dir" / "stats.json"
    proc = subprocess.Popen([str(build_dir / "spanwire"), "run", "--stats-file", str(stats)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        time.sleep(4)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    warnings = [l for l in err.splitlines() if "--stats-file could not be written" in l]
    assert len(warnings) == 1, err  # throttled: once a minute, not every second
    assert "stats_file_errors=" in err, err


def test_documented_capabilities_without_tracefs_access_explain_what_is_missing(build_dir):
    """An unprivileged user with only CAP_BPF and CAP_PERFMON, on a host where
    tracefs is root-only (mode 0700): one line naming the missing capability,
    exit 2 (it used to abort on an uncaught filesystem error, exit 134)."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        cannot_run("needs root and setpriv (util-linux) to drop to another user")
    mode = os.stat("/sys/kernel/tracing").st_mode & 0o777
    if mode & 0o005:
        cannot_run(f"tracefs is mode {mode:o} here, not root-only: nothing to check")
    cmd = [shutil.which("setpriv"), "--reuid=65534", "--regid=65534", "--clear-groups",
           "--inh-caps=-all,+bpf,+perfmon", "--ambient-caps=-all,+bpf,+perfmon",
           str(build_dir / "spanwire"), "run"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert res.returncode == 2, (res.returncode, res.stderr)
    lines = error_lines(res.stderr)
    assert len(lines) == 1 and "CAP_DAC_READ_SEARCH" in lines[0] and "/sys/kernel/tracing" in lines[0], res.stderr
