#!/usr/bin/env python3
"""Where the load generator's CPU goes in each server's runs (BENCHMARKS.md, twelfth session).

On loopback a sender's `write` also runs the receiver's TCP processing (`net_rx_action` →
`tcp_v4_rcv` → the receive queue), so a server that reads differently moves kernel work into the
load generator's CPU, which `bench.py` does not count. This runs N real-time publishers at
LiveGate and at nginx-rtmp (interleaved, a fresh process per run), samples `rtmp-bench` with perf
for S seconds of steady state (15), and prints per run: the server's cores, the load generator's, and how
much of the latter is the receive path (inclusive `net_rx_action`) and its parts.
  python3 bench/load-generator-cost.py [N=1500] [RUNS=2] [S=15]
Needs what bench/run.sh installs (nginx + libnginx-mod-rtmp, perf) and release builds."""
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as B  # noqa: E402

SYMBOLS = ("net_rx_action", "tcp_v4_rcv", "tcp_data_queue", "tcp_try_coalesce", "tcp_ack", "sock_def_readable", "tcp_sendmsg")


def inclusive_shares(data):
    """Inclusive (children) percentage of each kernel symbol in SYMBOLS."""
    out = subprocess.run(["perf", "report", "-i", data, "--children", "--sort", "symbol", "--stdio", "-g", "none"],
                         capture_output=True, text=True).stdout
    shares = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[0].endswith("%") and parts[2] == "[k]" and parts[3] in SYMBOLS:
            shares[parts[3]] = float(parts[0].rstrip("%"))
    return shares


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1500
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 15
    build = os.environ.get("BENCH_BUILD", "release")
    work = tempfile.mkdtemp(prefix="livegate-lgcost-")
    lg = B.LiveGate(os.path.join(B.ROOT, f".build/{build}/livegate"), 31935, 31980, work)
    ng = B.Nginx(31936, work, os.cpu_count() or 2)
    bench = os.path.join(B.ROOT, f".build/{build}/rtmp-bench")
    clip = B.clip_600k()
    lg.start()
    ng.start()
    try:
        for r in range(runs):
            for server in (lg, ng):
                B.restart(server)
                keys = server.channels(n)
                ramp = n / 200
                proc = B.rtmp_bench_start(bench, server, clip, keys, ramp + 5 + seconds + 3, rate=200, timeout=30)
                time.sleep(ramp + 5)
                c0, g0, t0 = server.cpu(), B.cpu_seconds([proc.pid]), time.monotonic()
                data = os.path.join(work, f"{server.name}-{r}.perf.data")
                subprocess.run(["perf", "record", "-F", "499", "-g", "-p", str(proc.pid), "-o", data, "--", "sleep", str(seconds)], capture_output=True)
                c1, g1, t1 = server.cpu(), B.cpu_seconds([proc.pid]), time.monotonic()
                result = B.rtmp_bench_finish(proc)
                load = (g1 - g0) / (t1 - t0)
                shares = inclusive_shares(data)
                parts = ", ".join(f"{s} {shares.get(s, 0):.1f} % ({load * shares.get(s, 0) / 100:.3f})" for s in SYMBOLS)
                print(f"{server.name} run {r + 1}: server {(c1 - c0) / (t1 - t0):.3f} cores, load generator {load:.3f} cores; "
                      f"inclusive: {parts}; failed {result['failed']}", flush=True)
                time.sleep(2)
    finally:
        lg.stop()
        ng.stop()


if __name__ == "__main__":
    main()
