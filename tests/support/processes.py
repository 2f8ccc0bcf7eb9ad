"""Processes started by the end-to-end tests and the benchmark driver: each one
logs to <log_dir>/<name>.log and is stopped by its PID, whatever happens."""
import os
import signal
import subprocess


class Processes:
    def __init__(self, log_dir, stop_timeout=10.0):
        self.tmp = log_dir
        self.stop_timeout = stop_timeout
        self.procs = []

    def start(self, args, name, stdin=None, env=None, stdout=subprocess.PIPE):
        """stdout=None sends standard output to the log file, with standard error."""
        log = open(self.tmp / f"{name}.log", "wb")
        proc = subprocess.Popen(args, stdin=stdin, stdout=log if stdout is None else stdout, stderr=log,
                                env=env, start_new_session=True)
        proc.log_path = self.tmp / f"{name}.log"
        self.procs.append(proc)
        return proc

    def stop(self, proc, sig=signal.SIGTERM, timeout=None):
        """Signals proc, waits (SIGKILL after the timeout); returns its exit code."""
        if proc.poll() is None:
            os.kill(proc.pid, sig)
            try:
                proc.wait(timeout=self.stop_timeout if timeout is None else timeout)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        return proc.returncode

    def stop_all(self, timeout=None):
        for proc in reversed(self.procs):
            self.stop(proc, timeout=timeout)
