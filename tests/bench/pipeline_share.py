#!/usr/bin/python3
"""How much of the CPUs the sensor's pipeline thread gets, step by step.

Runs one sensor and `latency_probe` steps at fixed rates (nginx 600 B, 16
connections, like the bench's sweep), and reads the pipeline thread's
/proc/<pid>/task/<pid>/schedstat every 100 ms: the time it ran, the time it
waited in the run queue while runnable, and its slices. A pipeline that falls
behind while it waits longer than it runs is short of its share of the CPUs,
not of CPU time (docs/PERFORMANCE.md item 28).

  sudo /usr/bin/python3 tests/bench/pipeline_share.py --build-dir build --rates 10000,20000,20000

--nice-pipeline / --nice-others set the nice value of the pipeline thread /
of every other sensor thread after start, for experiments.
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "support"))
import run_bench as rb  # noqa: E402
from processes import Processes  # noqa: E402

STEP_SECONDS = 5


def schedstat(pid):
    """(ns run, ns waiting in the run queue, slices) of the thread pid."""
    run, wait, slices = pathlib.Path(f"/proc/{pid}/task/{pid}/schedstat").read_text().split()[:3]
    return int(run), int(wait), int(slices)


def step(build, ports, sensor, rate):
    before = sensor.stats()
    probe = subprocess.Popen([str(build / "latency_probe"), str(ports["http"]), "/small.html", str(rate),
                              str(rate * STEP_SECONDS), "16"], stdout=subprocess.PIPE, text=True)
    start = schedstat(sensor.proc.pid)
    deadline = time.monotonic() + STEP_SECONDS * 4 + 60
    while probe.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    if probe.poll() is None:
        probe.kill()
        raise RuntimeError(f"latency_probe at {rate} req/s did not finish")
    end = schedstat(sensor.proc.pid)
    sent = json.loads(probe.stdout.read())
    after = sensor.settled_stats()
    return {"rate": rate, "achieved": round(sent["count"] / sent["seconds"]),
            "run_s": round((end[0] - start[0]) / 1e9, 2), "runqueue_wait_s": round((end[1] - start[1]) / 1e9, 2),
            "slices": end[2] - start[2],
            "spans_lost": 2 * sent["count"] - (after["spans_exported"] - before["spans_exported"]),
            "shed_cuts": after.get("kernel_shed_cuts", 0) - before.get("kernel_shed_cuts", 0)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--rates", type=lambda v: [int(x) for x in v.split(",")], default=[10000, 20000, 20000])
    ap.add_argument("--nice-pipeline", type=int, default=None)
    ap.add_argument("--nice-others", type=int, default=None)
    args = ap.parse_args()
    build = pathlib.Path(args.build_dir).resolve()
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="pipeline-share-"))
    procs = Processes(tmp, stop_timeout=30)
    try:
        ports = rb.start_servers(procs, tmp, build)
        sensor = rb.Sensor(procs, build, tmp, ports["sink"], "spanwire")
        pid = sensor.proc.pid
        if args.nice_pipeline is not None:
            os.setpriority(os.PRIO_PROCESS, pid, args.nice_pipeline)  # the main thread: tid == pid
        if args.nice_others is not None:
            for tid in (int(t) for t in os.listdir(f"/proc/{pid}/task")):
                if tid != pid:
                    os.setpriority(os.PRIO_PROCESS, tid, args.nice_others)
        print(f"{'rate':>6} {'achieved':>8} {'run s':>6} {'wait s':>6} {'slices':>7} {'lost':>7} {'cuts':>5}")
        for rate in args.rates:
            r = step(build, ports, sensor, rate)
            print(f"{r['rate']:>6} {r['achieved']:>8} {r['run_s']:>6} {r['runqueue_wait_s']:>6} {r['slices']:>7} "
                  f"{r['spans_lost']:>7} {r['shed_cuts']:>5}", flush=True)
        sensor.stop()
    finally:
        procs.stop_all(timeout=20)


if __name__ == "__main__":
    main()
