#!/usr/bin/env python3
"""LiveGate's memory per publisher over one capacity run: resident size and heap in use.

usage: bench/memory-over-time.py [--livegate BIN] [--rtmp-bench BIN] [--publishers 4000]
                                 [--rate 200] [--interval-ms 100] [--seconds 60] [--every 2]

The capacity figure (bench.py --only capacity) is one resident-size sample 10 s after the ramp.
This prints the whole curve — the ramp, the hold, the publishers leaving — with the heap's bytes
in use (`livegate_heap_in_use_bytes` from /metrics) beside the resident size, both per
publisher above the idle gateway's. A heap that keeps growing while nothing changes is something
kept per publisher per second; a resident size above the heap is freed memory glibc still holds
(which `MemoryTrimmer` returns). Same servers, ports and clip as bench.py.
"""
import argparse
import base64
import http.client
import os
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def heap_kib(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    auth = base64.b64encode(f"{bench.TOKEN[0]}:{bench.TOKEN[1]}".encode()).decode()
    conn.request("GET", "/metrics", headers={"Authorization": "Basic " + auth})
    text = conn.getresponse().read().decode()
    conn.close()
    for line in text.splitlines():
        if line.startswith("livegate_heap_in_use_bytes "):
            return float(line.split()[1]) / 1024
    return None


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser()
    ap.add_argument("--livegate", default=os.path.join(root, ".build/release/livegate"))
    ap.add_argument("--rtmp-bench", default=os.path.join(root, ".build/release/rtmp-bench"))
    ap.add_argument("--publishers", type=int, default=4000)
    ap.add_argument("--rate", type=float, default=200)
    ap.add_argument("--interval-ms", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--every", type=float, default=2, help="seconds between printed samples")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="livegate-memory-")
    lg = bench.LiveGate(args.livegate, 31935, 31980, work)
    lg.start()
    try:
        keys = lg.channels(args.publishers)
        time.sleep(1)
        base_rss, base_heap = lg.rss(), heap_kib(lg.http_port) or 0
        samples, stop = [], threading.Event()

        def sample():
            t0 = time.monotonic()
            while not stop.is_set():
                samples.append((time.monotonic() - t0, lg.rss(), heap_kib(lg.http_port)))
                stop.wait(args.every)

        sampler = threading.Thread(target=sample)
        sampler.start()
        proc = bench.rtmp_bench_start(args.rtmp_bench, lg, bench.clip_600k(), keys, args.seconds, rate=args.rate, timeout=30,
                                      interval_ms=args.interval_ms)
        result = bench.rtmp_bench_finish(proc)
        time.sleep(3 * args.every)
        stop.set()
        sampler.join()
    finally:
        lg.stop()
    n = args.publishers
    print(f"{n} publishers at ~600 kbit/s, every {args.interval_ms} ms, ramp {n / args.rate:.0f} s, held {args.seconds:.0f} s: "
          f"accepted {result['accepted']}, failed {result['failed']}")
    print("     s   resident KiB/publisher   heap KiB/publisher   (above the idle gateway)")
    for t, rss, heap in samples:
        heap_s = f"{(heap - base_heap) / n:8.1f}" if heap is not None else "       -"
        print(f"{t:6.1f}   {(rss - base_rss) / n:8.1f}               {heap_s}")


if __name__ == "__main__":
    main()
