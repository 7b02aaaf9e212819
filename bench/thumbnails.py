#!/usr/bin/env python3
"""CPU per watched channel for thumbnails (issue #23 item 3; docs/contract.md §4, "Thumbnails").

Publishes N real-time 720p H.264 streams (ffmpeg -re -c copy, a 3 Mbit/s clip), then measures the
gateway's CPU over the same number of seconds twice: nobody asking for pictures, and every
channel's picture asked once a second (as a dashboard table does; the gateway decodes at most one
per channel every thumbnails.intervalSec, 5 s). The difference per channel is the cost of a
watched channel. The publishers' CPU is not counted.

    python3 bench/thumbnails.py [--livegate .build/release/livegate] [--channels 10] [--seconds 60]
"""
import argparse
import base64
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import TOKEN, LiveGate, ROOT, clip_3mbit, cpu_seconds, log  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--livegate", default=os.path.join(ROOT, ".build/release/livegate"))
    ap.add_argument("--channels", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=60)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="livegate-thumbs-")
    lg = LiveGate(args.livegate, 33935, 33980, work)
    lg.start()
    publishers = []
    try:
        clip = clip_3mbit()
        channels = lg.channels(args.channels)
        for _, key in channels:
            publishers.append(subprocess.Popen(["ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", clip, "-c", "copy",
                                                "-f", "flv", f"{lg.url}/{key}"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(8)
        auth = "Basic " + base64.b64encode(f"{TOKEN[0]}:{TOKEN[1]}".encode()).decode()

        def measure(watch):
            stop = threading.Event()
            answers = {"200": 0, "other": 0}

            def ask():
                while not stop.is_set():
                    for cid, _ in channels:
                        req = urllib.request.Request(f"http://127.0.0.1:{lg.http_port}/v1/channels/{cid}/thumbnail.jpg?width=320", headers={"Authorization": auth})
                        try:
                            with urllib.request.urlopen(req, timeout=10) as r:
                                r.read()
                                answers["200"] += 1
                        except Exception:  # noqa: BLE001 - 503 until a keyframe is held
                            answers["other"] += 1
                    stop.wait(1)
            asker = threading.Thread(target=ask) if watch else None
            if asker:
                asker.start()
                time.sleep(5)  # keyframes held from the first ask on
            before = cpu_seconds(lg.pids())
            time.sleep(args.seconds)
            spent = cpu_seconds(lg.pids()) - before
            stop.set()
            if asker:
                asker.join()
            return spent, answers

        idle, _ = measure(False)
        watched, answers = measure(True)
        per = (watched - idle) / args.channels / args.seconds * 100
        print(f"| {args.channels} real-time 720p H.264 channels, {args.seconds:.0f} s | gateway CPU s |")
        print("| --- | ---: |")
        print(f"| nobody asking for pictures | {idle:.2f} |")
        print(f"| every channel's picture asked each second ({answers['200']} answered 200) | {watched:.2f} |")
        print(f"| cost of a watched channel | {per:.3f} % of a core |")
    finally:
        for p in publishers:
            p.kill()
        lg.stop()


if __name__ == "__main__":
    main()
