#!/usr/bin/python3
"""Two sensor builds side by side: a change against the commit before it
(`scripts/bench.sh --against REV`).

Each round runs the loads untraced, with the base sensor and with the new one,
in a random order, and every figure is a ratio taken within the round (new /
base, traced / untraced); the table gives the medians of those per-round
ratios and their range: these machines drift by more than most changes between
rounds. The loads are the ones issue 19's targets are stated on:
  - nginx 600 B and 64 KiB files under wrk (closed loop, both ends traced);
  - the 600 B file over HTTPS under wrk (OpenSSL at both ends: the uprobe path);
  - the 600 B file at a fixed rate (latency_probe, 16 connections), where
    sensor CPU per span is free of saturation effects; there also each BPF
    program's ns per run, so that a program the change leaves alone shows
    how far the rounds drift.
Only the new build's load tools and collector are used: from the base build,
only its `spanwire` binary.

Usage: compare_sensors.py --base-build DIR --new-build DIR [--rounds 5] [--seconds 5] [--rate 10000]
"""
import argparse
import datetime
import json
import os
import pathlib
import random
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import run_bench as rb  # noqa: E402

SENSORS = ("base", "new")


def bpf_ns(sensor, before):
    after = sensor.programs()
    return sum(t - before.get(name, (0, 0))[0] for name, (t, _) in after.items())


def traced_wrk(sensor, url, seconds):
    """wrk on `url` with the sensor running: req/s, and per request the BPF time,
    the sensor's CPU once caught up, and the data events."""
    programs, stats, cpu = sensor.programs(), sensor.stats(), sensor.cpu_seconds()
    rps, requests = rb.wrk(url, seconds)
    spent = bpf_ns(sensor, programs)
    settled = sensor.settled_stats()
    per = (lambda v: v / requests if requests else None)
    return {"rps": rps, "bpf_us_per_request": per(spent / 1000),
            "cpu_us_per_request": per((sensor.cpu_seconds() - cpu) * 1e6),
            "events_per_request": per(settled["kernel_data_events"] - stats["kernel_data_events"]),
            "spans_per_request": per(settled["spans_exported"] - stats["spans_exported"])}


def fixed_rate(sensor, build, port, rate, seconds):
    """The 600 B file at `rate` req/s: CPU and BPF time per span, spans lost."""
    programs, stats, cpu = sensor.programs(), sensor.stats(), sensor.cpu_seconds()
    out = subprocess.run([str(build / "latency_probe"), str(port), "/small.html", str(rate), str(rate * seconds), "16"],
                         capture_output=True, text=True, timeout=seconds * 4 + 60, check=True)
    sent = json.loads(out.stdout)["count"]
    spent = bpf_ns(sensor, programs)
    ns_per_run = rb.per_hook(programs, sensor.programs())
    settled = sensor.settled_stats()
    spans = 2 * sent  # both ends traced
    return {"cpu_us_per_span": (sensor.cpu_seconds() - cpu) * 1e6 / spans if sent else None,
            "bpf_us_per_span": spent / 1000 / spans if sent else None,
            "spans_lost": spans - (settled["spans_exported"] - stats["spans_exported"]),
            "ns_per_run": ns_per_run}


def one_round(args, procs, builds, tmp, ports, i):
    result = {}
    order = ["untraced", *SENSORS]
    random.shuffle(order)
    urls = {"small": f"http://127.0.0.1:{ports['http']}/small.html",
            "big": f"http://127.0.0.1:{ports['http']}/big.bin",
            "https": f"https://127.0.0.1:{ports['https']}/small.html"}
    for arm in order:
        print(f"round {i + 1}/{args.rounds}: {arm}", flush=True)
        if arm == "untraced":
            result[arm] = {load: {"rps": rb.wrk(url, args.seconds)[0]} for load, url in urls.items()}
            continue
        sensor = rb.Sensor(procs, builds[arm], tmp, ports["sink"], f"{arm}-{i}")
        try:
            result[arm] = {load: traced_wrk(sensor, url, args.seconds) for load, url in urls.items()}
            result[arm]["fixed"] = fixed_rate(sensor, builds["new"], ports["http"], args.rate, args.seconds)
        finally:
            sensor.stop()
    return result


def summary(rounds, rate):
    """(figure, base median, new median, [per-round new/base]) rows."""
    def values(arm, load, key):
        return [r[arm][load][key] for r in rounds]

    rows = []
    for load, what in (("small", "nginx 600 B"), ("big", "nginx 64 KiB"), ("https", "nginx HTTPS 600 B")):
        for arm in SENSORS:  # traced/untraced within each round
            rows.append((f"{what}, traced/untraced ({arm})", None,
                         statistics.median(b / a for a, b in zip(values("untraced", load, "rps"), values(arm, load, "rps"))),
                         None))
        for key, unit in (("rps", "req/s"), ("bpf_us_per_request", "BPF us per request"),
                          ("cpu_us_per_request", "sensor CPU us per request"), ("events_per_request", "data events per request"),
                          ("spans_per_request", "spans exported per request")):
            rows.append((f"{what}, {unit}", *pair(values("base", load, key), values("new", load, key))))
    for key, unit in (("cpu_us_per_span", "sensor CPU us per span"), ("bpf_us_per_span", "BPF us per span"),
                      ("spans_lost", "spans lost")):
        rows.append((f"600 B at a fixed {rate:,} req/s, {unit}", *pair(values("base", "fixed", key),
                                                                       values("new", "fixed", key))))
    # Each program's own cost, ns per run: a program the change leaves alone
    # shows how far the rounds drift, against which the changed ones read.
    runs = values("base", "fixed", "ns_per_run") + values("new", "fixed", "ns_per_run")
    for name in sorted(set.intersection(*(set(r) for r in runs))):
        rows.append((f"600 B at a fixed {rate:,} req/s, ns per run of {name}",
                     *pair([r[name] for r in values("base", "fixed", "ns_per_run")],
                           [r[name] for r in values("new", "fixed", "ns_per_run")])))
    return rows


def pair(base, new):
    ratios = [n / b for b, n in zip(base, new) if b and n is not None]
    return statistics.median(base), statistics.median(new), ratios


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base-build", required=True, help="build directory of the commit before the change")
    ap.add_argument("--new-build", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rate", type=int, default=10_000, help="fixed request rate for CPU per span")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("compare_sensors.py: needs root (the sensors load BPF programs)")
    builds = {"base": pathlib.Path(args.base_build).resolve(), "new": pathlib.Path(args.new_build).resolve()}
    for arm, build in builds.items():
        if not (build / "spanwire").exists():
            sys.exit(f"compare_sensors.py: no spanwire binary in {build} (--{arm}-build)")
    bpf_stats_before = rb.enable_bpf_stats()
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="spanwire-compare-"))
    procs = rb.Processes(tmp, stop_timeout=60)
    rounds = []
    try:
        ports = rb.start_servers(procs, tmp, builds["new"])
        for i in range(args.rounds):
            rounds.append(one_round(args, procs, builds, tmp, ports, i))
    finally:
        procs.stop_all(timeout=20)
        shutil.rmtree(tmp, ignore_errors=True)
        rb.BPF_STATS.write_text(bpf_stats_before)

    rows = summary(rounds, args.rate)
    width = max(len(r[0]) for r in rows)
    print(f"\n{'figure':<{width}}  {'base':>10}  {'new':>10}  {'new/base':>8}  per round")
    for figure, base, new, ratios in rows:
        if ratios is None:  # a traced/untraced ratio: one median, no pair
            print(f"{figure:<{width}}  {'':>10}  {new:>10.3f}")
            continue
        per_round = ", ".join(f"{r:.2f}" for r in ratios)
        med = f"{statistics.median(ratios):.3f}" if ratios else "-"
        print(f"{figure:<{width}}  {base:>10.2f}  {new:>10.2f}  {med:>8}  {per_round}")
    out_dir = rb.ROOT / "bench-results"
    out_dir.mkdir(exist_ok=True)
    path = out_dir / f"compare-{datetime.datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps({"args": vars(args), "rounds": rounds,
                                "rows": [{"figure": f, "base": b, "new": n, "new_over_base": r} for f, b, n, r in rows]},
                               indent=2))
    print(f"\nwritten: {path}")


if __name__ == "__main__":
    main()
