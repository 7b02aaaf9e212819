#!/usr/bin/env python3
"""HLS CPU by thread: where a gateway with N real-time HLS streams spends its CPU, per thread name.

`bench.py --only hls` measures HLS as the gateway's CPU with HLS on minus with HLS off — the
target's definition, but a difference of two noisy figures (±0.03 % of a core per stream between
runs on a shared 2-core machine). This reads each thread's CPU from /proc in a steady window of
one HLS-on run instead: the output lanes (`livegate-hls-N`) are HLS's own work, the event loops
(`NIO-*`) ingest plus the hand-over to the outputs. Several binaries interleave (A B A B …).

    python3 bench/hls-threads.py --livegate A[,B…] [--rounds 3] [--streams 40] [--seconds 24]
"""
import argparse
import collections
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def thread_cpu(pid):
    """CPU seconds per (tid, name) of a running process."""
    out = {}
    tick = os.sysconf("SC_CLK_TCK")
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            stat = open(f"/proc/{pid}/task/{tid}/stat").read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        out[(tid, name)] = (int(fields[11]) + int(fields[12])) / tick
    return out


def group(name):
    if name.startswith("livegate-hls"):
        return "lanes"
    if name.startswith("NIO-"):
        return "event loops"
    return "other"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--livegate", required=True, help="comma-separated gateway binaries")
    ap.add_argument("--rtmp-bench", default=os.path.join(bench.ROOT, ".build/release/rtmp-bench"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--streams", type=int, default=40)
    ap.add_argument("--seconds", type=float, default=24, help="the steady window measured")
    args = ap.parse_args()
    binaries = args.livegate.split(",")
    results = {b: collections.defaultdict(list) for b in binaries}
    for r in range(args.rounds):
        for binary in binaries:
            work = tempfile.mkdtemp(prefix="hls-threads-")
            server = bench.LiveGate(binary, 31935, 31980, work)
            server.start()
            try:
                keys = server.channels(args.streams, hls=True)
                load = bench.rtmp_bench_start(args.rtmp_bench, server, bench.clip_600k(), keys, args.seconds + 10)
                time.sleep(6)
                before, t0, cpu0 = thread_cpu(server.proc.pid), time.monotonic(), server.cpu()
                time.sleep(args.seconds)
                after, t1, cpu1 = thread_cpu(server.proc.pid), time.monotonic(), server.cpu()
                bench.rtmp_bench_finish(load)
            finally:
                server.stop()
            per = collections.Counter()
            for key, value in after.items():
                per[group(key[1])] += value - before.get(key, 0)
            per["process"] = cpu1 - cpu0
            scale = 100 / args.streams / (t1 - t0)
            for k, v in per.items():
                results[binary][k].append(v * scale)
            bench.log(f"round {r + 1} {os.path.basename(binary)}: " + ", ".join(f"{k} {v * scale:.4f}" for k, v in sorted(per.items()))
                      + " % of a core per stream")
    for binary in binaries:
        print(os.path.basename(binary) + ": " + ", ".join(
            f"{k} {statistics.median(v):.4f} [{min(v):.4f}–{max(v):.4f}]" for k, v in sorted(results[binary].items())) + " % per stream (median [range])")


if __name__ == "__main__":
    main()
