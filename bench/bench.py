#!/usr/bin/env python3
"""LiveGate vs nginx-rtmp, side by side on loopback (issue #6).

Starts LiveGate (release build) and nginx with Debian's libnginx-mod-rtmp, drives the same
workload at each with `rtmp-bench`, and prints one table of figures and ratios
(LiveGate / nginx-rtmp), each figure the median of --runs runs. Run it through
`bench/run.sh`, which installs what is missing and builds first.

CPU is read from /proc/PID/stat (utime + stime of the server's whole process tree), memory
from VmRSS; the load generator's own CPU is not counted.
"""
import argparse
import base64
import http.client
import json
import os
import random
import resource
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.path.join(ROOT, "bench", ".cache")
CLK = os.sysconf("SC_CLK_TCK")
TOKEN = ("tok_bench", "bench-secret-0123456789")
# --pin: the servers on core 0, the load generator on core 1 (`taskset`), so neither's CPU time
# is the other's noise; without it both share the two cores.
PIN_SERVER, PIN_LOAD = [], None


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- process measurements

def process_tree(pid):
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def require_hls(server, keys):
    """Raises unless `server` wrote an HLS playlist with segments for every key: a figure with HLS
    on means nothing if a server silently wrote none."""
    for key in keys:
        path = server.hls_playlist(key)
        try:
            with open(path) as f:
                text = f.read()
        except OSError:
            raise RuntimeError(f"{server.name} wrote no HLS playlist for {key[1]} ({path}); see its log")
        if "#EXTINF" not in text:
            raise RuntimeError(f"{server.name}'s playlist {path} has no segment")


def cpu_seconds(pids):
    total = 0.0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLK
        except OSError:
            pass
    return total


def rss_kib(pids):
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


# ---------------------------------------------------------------- media

def make_clip(name, args):
    os.makedirs(CACHE, exist_ok=True)
    path = os.path.join(CACHE, name)
    if not os.path.exists(path):
        log(f"making {name} …")
        subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y"] + args + ["-f", "flv", path], check=True)
    return path


def clip_3mbit():
    return make_clip("clip-3mbit.flv", [
        "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
        "-t", "10", "-c:v", "libx264", "-preset", "veryfast", "-b:v", "2900k", "-maxrate", "3000k", "-bufsize", "3000k",
        "-g", "60", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-ac", "2"])


def clip_600k():
    return make_clip("clip-600k.flv", [
        "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
        "-t", "10", "-c:v", "libx264", "-preset", "veryfast", "-b:v", "500k", "-maxrate", "520k", "-bufsize", "1000k",
        "-g", "60", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k", "-ac", "2"])


# ---------------------------------------------------------------- servers

class Server:
    name = "?"
    proc = None

    def pids(self):
        return process_tree(self.proc.pid) if self.proc else []

    def cpu(self):
        return cpu_seconds(self.pids())

    def rss(self):
        return rss_kib(self.pids())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class LiveGate(Server):
    name = "LiveGate"

    def __init__(self, binary, port, http_port, workdir, database_url=""):
        self.binary, self.port, self.http_port, self.dir = binary, port, http_port, workdir
        self.url = f"rtmp://127.0.0.1:{port}/live"
        self.next_channel = 0
        # --postgres-url: the store on that PostgreSQL database (emptied first) instead of SQLite.
        self.database_url = database_url
        if database_url:
            psql(database_url, "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;")

    def env(self):
        e = dict(os.environ)
        e.update({
            "LIVE_TOKEN_ID": TOKEN[0], "LIVE_TOKEN_SECRET": TOKEN[1], "LIVEGATE_DATA_DIR": os.path.join(self.dir, "data"),
            "LIVEGATE_RTMP_HOST": "127.0.0.1", "LIVEGATE_HTTP_HOST": "127.0.0.1", "LIVEGATE_RTMP_MAX_CONNECTIONS": "20000",
            "LIVEGATE_RTMP_MAX_CONNECTIONS_PER_IP": "0", "LIVEGATE_RTMP_FAILED_PUBLISHES_PER_MINUTE": "0",
            "LIVEGATE_API_AUTH_FAILURES_PER_MINUTE": "0", "LIVEGATE_NODE_ID": "bench",
        })
        if self.database_url:
            e["LIVEGATE_DATABASE_URL"] = self.database_url
        return e

    def start(self):
        self.log = open(os.path.join(self.dir, "livegate.log"), "ab")
        self.proc = subprocess.Popen(PIN_SERVER + [self.binary, "serve", "--rtmp-port", str(self.port), "--http-port", str(self.http_port)],
                                     env=self.env(), stdout=self.log, stderr=self.log, preexec_fn=raise_nofile)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                # /readyz, not /healthz: the HTTP listener answers /healthz while the store opens.
                if self.request("GET", "/readyz", auth=False)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("LiveGate did not start; see " + self.log.name)

    def request(self, method, path, body=None, auth=True, conn=None):
        own = conn is None
        conn = conn or http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=30)
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = "Basic " + base64.b64encode(f"{TOKEN[0]}:{TOKEN[1]}".encode()).decode()
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        r = conn.getresponse()
        data = r.read()
        if own:
            conn.close()
        return r.status, (json.loads(data) if data else None)

    def hls_playlist(self, key):
        return os.path.join(self.dir, "data", "hls", key[0], "index.m3u8")

    def output_drops(self):
        """Packets each live output dropped so far, from /metrics: {labels: count}."""
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=5)
        conn.request("GET", "/metrics", headers={"Authorization": "Basic " + base64.b64encode(f"{TOKEN[0]}:{TOKEN[1]}".encode()).decode()})
        text = conn.getresponse().read().decode()
        conn.close()
        out = {}
        for line in text.splitlines():
            if line.startswith("livegate_output_dropped_packets_total{"):
                labels, _, value = line.rpartition(" ")
                out[labels] = float(value)
        return out


    def channels(self, n, hls=False, record=False):
        """n fresh channels; returns [(id, key)]."""
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=30)
        out = []
        for _ in range(n):
            self.next_channel += 1
            status, body = self.request("POST", "/v1/channels", {"name": f"bench{self.next_channel}", "userId": "bench",
                                                                 "hls": hls, "record": record, "reconnectWindowSec": 0}, conn=conn)
            if status != 201:
                raise RuntimeError(f"channel create: {status} {body}")
            out.append((body["data"]["id"], body["data"]["streamId"]))
        conn.close()
        return out

    def seed(self, n):
        """n channels straight into the SQLite file (stopped gateway), cloned from an API-made row."""
        template = self.channels(1)[0][0]
        if self.database_url:
            return self.seed_postgres(n, template)
        self.stop()
        db = sqlite3.connect(os.path.join(self.dir, "data", "livegate.sqlite"))
        cols = [r[1] for r in db.execute("PRAGMA table_info(channels)") if r[1] != "seq"]
        row = dict(zip(cols, db.execute(f"SELECT {','.join(cols)} FROM channels WHERE id = ?", (template,)).fetchone()))
        keys = []
        rows = ([r[c] for c in cols] for r in seed_rows(row, n, keys))
        with db:
            db.executemany(f"INSERT INTO channels ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})", rows)
        db.close()
        self.start()
        return keys


    def seed_postgres(self, n, template):
        """n channels into PostgreSQL with COPY (text format), cloned from an API-made row."""
        row = json.loads(psql(self.database_url, f"SELECT row_to_json(c) FROM channels c WHERE id = '{template}'", capture=True))
        cols = [c for c in row if c != "seq"]

        def text(v):
            if v is None:
                return "\\N"
            v = str(v).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
            return v
        keys = []
        lines = ["\t".join(text(r[c]) for c in cols) for r in seed_rows(row, n, keys)]
        psql(self.database_url, f"\\copy channels ({','.join(cols)}) FROM STDIN", stdin="\n".join(lines) + "\n")
        psql(self.database_url, "ANALYZE channels")
        return keys


class DropWatch:
    """Watches a LiveGate's output drops during a run (a live output's counter leaves /metrics with
    its session, so it is polled): `total` is the sum of each output's highest count. A CPU figure
    for HLS means little if the outputs dropped part of the stream to keep up."""

    def __init__(self, server):
        self.server, self.highest, self.stop = server, {}, threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            try:
                for labels, n in self.server.output_drops().items():
                    self.highest[labels] = max(n, self.highest.get(labels, 0))
            except OSError:
                pass
            # Not more often: a /metrics scrape costs the gateway milliseconds with 40 channels
            # live, and at 2 a second that doubled the no-HLS baseline of the HLS figure.
            self.stop.wait(5)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()

    @property
    def total(self):
        return int(sum(self.highest.values()))


def seed_rows(template, n, keys):
    """n copies of a channel row with their own id, stream key and name; appends (id, key) to keys."""
    for i in range(n):
        r = dict(template)
        r["id"] = f"ch_seed{i:07d}"
        r["stream_key"] = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
        r["name"] = f"seed {i}"
        keys.append((r["id"], r["stream_key"]))
        yield r


def psql(url, command, stdin=None, capture=False):
    """Runs one psql command against `url` (Debian's postgresql-client)."""
    r = subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", command], input=stdin, text=True,
                       stdout=subprocess.PIPE if capture else subprocess.DEVNULL, check=True)
    return r.stdout.strip() if capture else None


class Nginx(Server):
    name = "nginx-rtmp"

    def __init__(self, port, workdir, workers):
        self.port, self.dir, self.workers = port, workdir, workers
        self.url = f"rtmp://127.0.0.1:{port}/live"
        self.hls = False
        self.n = 0

    def start(self, hls=False):
        self.hls = hls
        with open(os.path.join(ROOT, "bench", "nginx-rtmp.conf.in")) as f:
            conf = f.read()
        # A fresh folder per start, writable by the worker: started as root, nginx's workers run
        # as `nobody`, and a folder they cannot reach makes nginx-rtmp skip HLS with only a line in
        # its error log (which once made its `hls on` look free in these benchmarks).
        self.starts = getattr(self, "starts", 0) + 1
        hls_dir = self.hls_dir = os.path.join(self.dir, f"nginx-hls-{self.starts}")
        os.makedirs(hls_dir, exist_ok=True)
        os.chmod(self.dir, 0o755)
        os.chmod(hls_dir, 0o777)
        conf = (conf.replace("@DIR@", self.dir).replace("@PORT@", str(self.port)).replace("@WORKERS@", str(self.workers))
                .replace("@HLS@", f"hls on; hls_path {hls_dir}; hls_fragment 2s; hls_playlist_length 12s;" if hls else ""))
        path = os.path.join(self.dir, "nginx.conf")
        with open(path, "w") as f:
            f.write(conf)
        self.log = open(os.path.join(self.dir, "nginx.out"), "ab")
        self.proc = subprocess.Popen(PIN_SERVER + ["nginx", "-c", path, "-p", self.dir], stdout=self.log, stderr=self.log,
                                     preexec_fn=raise_nofile)
        time.sleep(1)
        if self.proc.poll() is not None:
            raise RuntimeError("nginx did not start; see " + os.path.join(self.dir, "nginx-error.log"))

    def hls_playlist(self, key):
        return os.path.join(self.hls_dir, f"{key[1]}.m3u8")

    def channels(self, n, hls=False, record=False):
        out = []
        for _ in range(n):
            self.n += 1
            out.append((f"k{self.n}", f"k{self.n}"))
        return out


# ---------------------------------------------------------------- load

def rtmp_bench_start(binary, server, clip, keys, seconds, flat_out=False, rate=0, publish_times=None, timeout=15, cpus=None, interval_ms=20):
    """Starts rtmp-bench (pinned to `cpus` with taskset when given); finish with rtmp_bench_finish.
    A real-time publisher sends what is due every `interval_ms`."""
    with tempfile.NamedTemporaryFile("w", delete=False, suffix=".keys") as f:
        f.write("\n".join(k for _, k in keys))
        keys_file = f.name
    args = [binary, "--url", server.url, "--file", clip, "--publishers", str(len(keys)), "--duration", str(seconds),
            "--keys-file", keys_file, "--json", "--rate", str(rate), "--timeout", str(timeout),
            "--interval-ms", str(interval_ms)]
    if flat_out:
        args.append("--flat-out")
    if publish_times:
        args += ["--publish-times", publish_times]
    if cpus:
        args = ["taskset", "-c", cpus] + args
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=raise_nofile)
    proc.keys_file = keys_file
    return proc


def rtmp_bench_finish(proc):
    out, err = proc.communicate()
    os.unlink(proc.keys_file)
    try:
        return json.loads(out.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        raise RuntimeError(f"rtmp-bench failed: {out}\n{err}")


def rtmp_bench(binary, server, clip, keys, seconds, **kw):
    return rtmp_bench_finish(rtmp_bench_start(binary, server, clip, keys, seconds, **kw))


def raise_nofile():
    """Thousands of publishers need as many descriptors (the load generator and the servers)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


# ---------------------------------------------------------------- workloads

def ingest_cpu_per_gib(server, bench, runs, seconds):
    """CPU seconds per GiB ingested: 20 flat-out publishers of a 3 Mbit/s clip, no outputs."""
    clip = clip_3mbit()
    results = []
    for i in range(runs):
        keys = server.channels(20, hls=False)
        before = server.cpu()
        r = rtmp_bench(bench, server, clip, keys, seconds, flat_out=True)
        time.sleep(0.5)
        cpu = server.cpu() - before
        gib = r["bytesSent"] / 2**30
        results.append(cpu / gib if gib > 0 else None)
        log(f"  {server.name} ingest run {i + 1}: {cpu:.2f} CPU s for {gib:.2f} GiB, failures {r['failed']}")
    return median(results)


def restart(server):
    server.stop()
    server.start()


def realtime_cores(servers, bench, runs, publishers, steady, rate):
    """Cores busy (CPU s per wall s) in `steady` seconds of steady state with N real-time ~600 kbit/s
    publishers, after the ramp and 5 s of settling; the runs interleave the servers (A B A B …).
    Also the load generator's cores over the same window, and failures."""
    clip = clip_600k()
    out = {s.name: {"cores": [], "failed": [], "load": []} for s in servers}
    for i in range(runs):
        for server in servers:
            restart(server)
            keys = server.channels(publishers)
            ramp = publishers / rate
            proc = rtmp_bench_start(bench, server, clip, keys, ramp + 5 + steady + 3, rate=rate, timeout=30, cpus=PIN_LOAD)
            time.sleep(ramp + 5)
            c0, g0, t0 = server.cpu(), cpu_seconds([proc.pid]), time.monotonic()
            time.sleep(steady)
            c1, g1, t1 = server.cpu(), cpu_seconds([proc.pid]), time.monotonic()
            r = rtmp_bench_finish(proc)
            cores, load = (c1 - c0) / (t1 - t0), (g1 - g0) / (t1 - t0)
            out[server.name]["cores"].append(cores)
            out[server.name]["load"].append(load)
            out[server.name]["failed"].append(r["failed"])
            log(f"  {server.name} {publishers} real-time publishers run {i + 1}: {cores:.3f} cores busy (load generator {load:.3f}), "
                f"accepted {r['accepted']}, failed {r['failed']} {r['failures']}")
            time.sleep(2)
    return out


def realtime_capacity_interleaved(servers, bench, runs, publishers, seconds, rate, interval_ms=20):
    """N real-time publishers held `seconds`: failures, resident KiB per publisher (RSS at the
    middle of the hold minus before the first connection, a fresh process per run) and the load
    generator's share of the two cores; runs interleaved. `interval_ms`: each publisher sends
    what is due that often (20: as an encoder sending frame by frame; the load generator pays
    the loopback's receive path too, so at 4,000 on two cores it needs a coarser pace)."""
    clip = clip_600k()
    out = {s.name: {"failed": [], "kib": [], "load": []} for s in servers}
    for i in range(runs):
        for server in servers:
            restart(server)
            keys = server.channels(publishers)
            time.sleep(1)
            base = server.rss()
            ramp = publishers / rate if rate else 0
            t0 = time.monotonic()
            # The load generator's CPU over its whole run: what its waited-for process used.
            children = resource.getrusage(resource.RUSAGE_CHILDREN)
            proc = rtmp_bench_start(bench, server, clip, keys, seconds, rate=rate, timeout=30, cpus=PIN_LOAD, interval_ms=interval_ms)
            time.sleep(ramp + min(10, seconds / 2))
            mid = server.rss()
            r = rtmp_bench_finish(proc)
            used = resource.getrusage(resource.RUSAGE_CHILDREN)
            load_cpu = (used.ru_utime + used.ru_stime) - (children.ru_utime + children.ru_stime)
            load = load_cpu / max(time.monotonic() - t0, 1)
            out[server.name]["failed"].append(r["failed"])
            out[server.name]["kib"].append((mid - base) / publishers)
            out[server.name]["load"].append(load)
            log(f"  {server.name} {publishers} publishers run {i + 1}: accepted {r['accepted']}, failed {r['failed']} {r['failures']}, "
                f"RSS {base} → {mid} KiB ({(mid - base) / publishers:.1f} KiB each), load generator ≈ {load:.2f} cores")
            time.sleep(2)
    return out


def ffmpeg_ingest(servers, runs, publishers, loops, hls):
    """CPU s per GiB with `publishers` real `ffmpeg -c copy` publishers of the 3 Mbit/s clip, flat
    out (no -re), the clip looped `loops` more times; `hls` turns HLS on at both servers (LiveGate's
    channel default, nginx-rtmp's `hls on`). GiB = FLV bytes read by the ffmpegs."""
    clip = clip_3mbit()
    gib = os.path.getsize(clip) * (loops + 1) * publishers / 2**30
    out = {s.name: [] for s in servers}
    out["drops"] = []
    for i in range(runs):
        for server in servers:
            if isinstance(server, Nginx):
                server.stop()
                server.start(hls=hls)
            else:
                restart(server)
            keys = server.channels(publishers, hls=hls)
            before = server.cpu()
            pin = ["taskset", "-c", PIN_LOAD] if PIN_LOAD else []
            watch = DropWatch(server) if isinstance(server, LiveGate) else None
            if watch:
                watch.__enter__()
            procs = [subprocess.Popen(pin + ["ffmpeg", "-hide_banner", "-loglevel", "error", "-stream_loop", str(loops), "-i", clip,
                                             "-c", "copy", "-f", "flv", f"{server.url}/{key}"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _, key in keys]
            failed = 0
            for p in procs:
                try:
                    _, err = p.communicate(timeout=600)
                    failed += p.returncode != 0
                except subprocess.TimeoutExpired:
                    p.kill()
                    failed += 1
            time.sleep(0.5)
            cpu = server.cpu() - before
            dropped = ""
            if watch:
                watch.__exit__()
                out["drops"].append(watch.total)
                # Flat out, the publishers outrun what two cores can mux: outputs drop to the next
                # keyframe (nginx-rtmp slows the publishers down instead), so the HLS-on CPU
                # figure is of the packets written — the count says how many were not.
                dropped = f", outputs dropped {watch.total} packets"
            if hls:
                require_hls(server, keys)
            out[server.name].append(cpu / gib)
            log(f"  {server.name} {publishers} ffmpeg publishers{' (HLS on)' if hls else ''} run {i + 1}: {cpu:.2f} CPU s for {gib:.2f} GiB, "
                f"{failed} ffmpeg failed{dropped}")
    if any(isinstance(s, Nginx) for s in servers):
        nginx = next(s for s in servers if isinstance(s, Nginx))
        nginx.stop()
        nginx.start()
    return out


def channel_scale(binary, bench, sizes, publishers, rate, wrk_seconds):
    """Accept latency and API latency with 1k … 1M channels in the store (SQLite): a fresh data
    directory per size, the channels inserted straight into the file."""
    rows = []
    for n in sizes:
        work = tempfile.mkdtemp(prefix="livegate-scale-")
        lg = LiveGate(binary, 31937, 31981, work)
        try:
            lg.start()
            t = time.monotonic()
            seeded = lg.seed(n)
            log(f"  {n:,} channels seeded in {time.monotonic() - t:.0f} s")
            a = accept_latency(lg, bench, 1, seeded, min(publishers, n), rate)
            rps, p99 = api_wrk(lg, wrk_seconds, channel=random.choice(seeded)[0])
            rss = lg.rss()
            rows.append((n, a, rps, p99, rss))
            log(f"  {n:,} channels: accept p99 {a[0]} ms (publish command p99 {a[2]} ms), GET /v1/channels/{{id}} {rps} req/s p99 {p99} ms, "
                f"RSS {rss / 1024:.0f} MiB")
        finally:
            lg.stop()
            shutil.rmtree(work, ignore_errors=True)
    return rows


class WebhookReceiver:
    """Records when each channel.live arrives."""

    def __init__(self):
        arrivals = self.arrivals = {}

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                now = time.time() * 1000
                try:
                    event = json.loads(body)
                    if event.get("type") == "channel.live":
                        arrivals.setdefault(event["data"]["channel"]["id"], now)
                except (ValueError, KeyError):
                    pass
                self.send_response(204)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


def webhook_delays(times_file, keys, arrivals):
    """Sorted ms from each publisher's Publish.Start (rtmp-bench --publish-times) to its channel.live at the receiver."""
    key_to_channel = {k: c for c, k in keys}
    delays = []
    with open(times_file) as f:
        for line in f:
            key, ms = line.split()
            arrived = arrivals.get(key_to_channel.get(key))
            if arrived:
                delays.append(arrived - float(ms))
    return sorted(delays)


def accept_latency(server, bench, runs, seeded, publishers, rate, webhook=None):
    """Publish-accept p99 at `rate` new publishers/s (and, for LiveGate, channel.live webhook p99)."""
    clip = clip_600k()
    p99s, hook99s, cmd99s = [], [], []
    pool = list(seeded)
    random.shuffle(pool)
    for i in range(runs):
        keys = pool[i * publishers:(i + 1) * publishers] if len(pool) >= (i + 1) * publishers else server.channels(publishers)
        times_file = tempfile.mktemp(suffix=".times")
        r = rtmp_bench(bench, server, clip, keys, 2, rate=rate, publish_times=times_file)
        p99s.append(r["acceptLatencyMs"]["p99"])
        cmd99s.append(r.get("publishCommandMs", {}).get("p99"))
        if webhook:
            time.sleep(2)
            delays = webhook_delays(times_file, keys, webhook.arrivals)
            if delays:
                hook99s.append(delays[min(len(delays) - 1, int(len(delays) * 0.99))])
            log(f"  webhooks matched {len(delays)}/{len(keys)}")
        os.path.exists(times_file) and os.unlink(times_file)
        steps = " ".join(f"{k} {v}" for k, v in sorted(r.get("stepMedianMs", {}).items(), key=lambda kv: kv[1]))
        log(f"  {server.name} accept run {i + 1}: p50 {r['acceptLatencyMs']['p50']} p99 {r['acceptLatencyMs']['p99']} ms "
            f"(publish command → Publish.Start p99 {r.get('publishCommandMs', {}).get('p99')} ms), failed {r['failed']}"
            f" (median ms since connect at each step: {steps})")
    return median(p99s), median(hook99s) if hook99s else None, median(cmd99s)


def steady_cpu(server, bench, clip, keys, seconds, warmup):
    """The server's CPU seconds over the last `seconds` of a real-time load that ran `warmup`
    seconds before them (0: the whole load, from the first publish)."""
    if not warmup:
        before = server.cpu()
        rtmp_bench(bench, server, clip, keys, seconds)
        return server.cpu() - before
    load = rtmp_bench_start(bench, server, clip, keys, warmup + seconds + 2)
    time.sleep(warmup)
    before = server.cpu()
    time.sleep(seconds)
    spent = server.cpu() - before
    rtmp_bench_finish(load)
    return spent


def hls_cpu_livegate(server, bench, runs, streams, seconds, warmup=0):
    """LiveGate's CPU per HLS stream: the same real-time load with HLS on minus with HLS off
    (`warmup`: counted only after that many seconds of load, a steady state)."""
    clip = clip_600k()
    results = []
    for i in range(runs):
        cpus = {}
        for hls in (False, True):
            keys = server.channels(streams, hls=hls)
            with DropWatch(server) as watch:
                cpus[hls] = steady_cpu(server, bench, clip, keys, seconds, warmup)
            if hls:
                require_hls(server, keys)
            # Real time is well within the machine: an output that dropped part of it would make
            # the figure a measure of less work.
            if watch.total:
                raise RuntimeError(f"LiveGate's outputs dropped {watch.total} packets of {streams} real-time streams")
            time.sleep(1)
        results.append((cpus[True] - cpus[False]) / streams / seconds)
        log(f"  LiveGate HLS run {i + 1}: {cpus[False]:.2f} → {cpus[True]:.2f} CPU s for {streams} streams × {seconds} s")
    return median(results)


def hls_cpu_ffmpeg(nginx, bench, runs, streams, seconds, workdir):
    """A separate `ffmpeg -i rtmp://… -c copy -f hls` per stream, pulling from nginx-rtmp: its CPU per stream."""
    clip = clip_600k()
    results = []
    for i in range(runs):
        keys = nginx.channels(streams)
        load = threading.Thread(target=rtmp_bench, args=(bench, nginx, clip, keys, seconds + 4))
        load.start()
        time.sleep(1.5)
        procs = []
        for _, key in keys:
            out = os.path.join(workdir, f"ffhls-{key}")
            os.makedirs(out, exist_ok=True)
            procs.append(subprocess.Popen(["ffmpeg", "-hide_banner", "-loglevel", "error", "-i", f"{nginx.url}/{key}", "-c", "copy", "-f", "hls",
                                           "-hls_time", "2", "-hls_list_size", "6", "-hls_flags", "delete_segments", os.path.join(out, "index.m3u8")],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(1)
        before = cpu_seconds([p.pid for p in procs])
        time.sleep(seconds)
        cpu = cpu_seconds([p.pid for p in procs]) - before
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()
        load.join()
        results.append(cpu / streams / seconds)
        log(f"  ffmpeg-per-stream HLS run {i + 1}: {cpu:.2f} CPU s for {streams} streams × {seconds} s")
    return median(results)


def hls_cpu_nginx(nginx, bench, runs, streams, seconds, warmup=0):
    """nginx-rtmp's own `hls on` for comparison: CPU with HLS minus without, per stream."""
    clip = clip_600k()
    results = []
    for i in range(runs):
        cpus = {}
        for hls in (False, True):
            nginx.stop()
            nginx.start(hls=hls)
            keys = nginx.channels(streams)
            cpus[hls] = steady_cpu(nginx, bench, clip, keys, seconds, warmup)
            if hls:
                require_hls(nginx, keys)
        results.append((cpus[True] - cpus[False]) / streams / seconds)
        log(f"  nginx-rtmp HLS run {i + 1}: {cpus[False]:.2f} → {cpus[True]:.2f} CPU s for {streams} streams × {seconds} s")
    nginx.stop()
    nginx.start()
    return median(results)


def api_wrk(server, seconds, channel=None, post=False):
    """wrk -t2 -c32 on GET /v1/channels/{id}, or (post) on POST /v1/channels, each request making
    a channel. Returns (requests/s, p99 ms); raises if any answer was not 2xx."""
    auth = base64.b64encode(f"{TOKEN[0]}:{TOKEN[1]}".encode()).decode()
    args = ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", "-H", f"Authorization: Basic {auth}"]
    script = None
    if post:
        script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
        script.write('wrk.method = "POST"\nwrk.body = \'{"name":"wrk","userId":"bench-post"}\'\n'
                     'wrk.headers["Content-Type"] = "application/json"\n')
        script.close()
        args += ["-s", script.name, f"http://127.0.0.1:{server.http_port}/v1/channels"]
    else:
        channel = channel or server.channels(1)[0][0]
        args += [f"http://127.0.0.1:{server.http_port}/v1/channels/{channel}"]
    r = subprocess.run(args, capture_output=True, text=True)
    if script:
        os.unlink(script.name)
    rps = p99 = None
    for line in r.stdout.splitlines():
        parts = line.split()
        if line.startswith("Requests/sec:"):
            rps = float(parts[1])
        if parts and parts[0] == "99%":
            v = parts[1]
            p99 = float(v[:-2]) if v.endswith("ms") else float(v[:-2]) / 1000 if v.endswith("us") else float(v[:-1]) * 1000
        if "Non-2xx" in line:
            raise RuntimeError("wrk: " + line.strip())
    return rps, p99


# ---------------------------------------------------------------- main

class SlowReceiver:
    """Answers every POST after `delay` seconds (a receiver that takes its time)."""

    def __init__(self, delay):
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                time.sleep(delay)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


def refused_port():
    """A loopback port where nothing listens (bound, then closed)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def outbox_backlog(server):
    """Undelivered deliveries per webhook, read from the SQLite file (WAL: reading beside the writer is fine)."""
    db = sqlite3.connect(f"file:{os.path.join(server.dir, 'data', 'livegate.sqlite')}?mode=ro", uri=True, timeout=10)
    rows = db.execute("SELECT webhook_id, COUNT(*) FROM webhook_deliveries WHERE state IN ('pending', 'sending', 'queued') GROUP BY webhook_id").fetchall()
    db.close()
    return dict(rows)


def webhook_lanes(server, bench, rounds, channels, rate, seconds):
    """Issue #12: `channels` channels going live and offline at 2 × `rate` events/s, three receivers —
    healthy, answering after 4 s, refusing connections. Round 1 has the healthy receiver alone
    (baseline); later rounds add the two failing ones. Reports the healthy receiver's channel.live
    latency after Publish.Start and the gateway's RSS while the failing receivers' backlog grows."""
    clip = clip_600k()
    healthy, slow = WebhookReceiver(), SlowReceiver(4.0)
    status, body = server.request("POST", "/v1/webhooks", {"url": f"http://127.0.0.1:{healthy.port}/hook", "events": ["channel.live", "channel.offline"]})
    healthy_id = body["data"]["id"]
    keys = server.channels(channels)
    alone, beside, rss, backlog, failing = [], [], [], [], []
    for i in range(rounds):
        if i == 1:
            for url in (f"http://127.0.0.1:{slow.port}/hook", f"http://127.0.0.1:{refused_port()}/hook"):
                failing.append(server.request("POST", "/v1/webhooks", {"url": url})[1]["data"]["id"])
        healthy.arrivals.clear()
        times_file = tempfile.mktemp(suffix=".times")
        r = rtmp_bench(bench, server, clip, keys, seconds, rate=rate, publish_times=times_file, timeout=30)
        time.sleep(1.5)
        delays = webhook_delays(times_file, keys, healthy.arrivals)
        os.unlink(times_file)
        (alone if i == 0 else beside).extend(delays)
        rss.append(server.rss())
        counts = outbox_backlog(server)
        # Only the two failing webhooks (an earlier workload's webhook may be in the same store).
        backlog.append(sum(counts.get(k, 0) for k in failing))
        p = lambda q: delays[min(len(delays) - 1, int(len(delays) * q))] if delays else None
        log(f"  round {i + 1} ({'healthy receiver alone' if i == 0 else 'beside a 4 s and a refusing receiver'}): accepted {r['accepted']}, "
            f"channel.live matched {len(delays)}/{len(keys)}, p50 {fmt(p(0.5))} p99 {fmt(p(0.99))} ms; RSS {rss[-1]} KiB; "
            f"failing receivers' backlog {backlog[-1]}, healthy's {counts.get(healthy_id, 0)}")
    healthy.stop()
    slow.stop()
    pct = lambda xs, q: sorted(xs)[min(len(xs) - 1, int(len(xs) * q))] if xs else None
    growth = (rss[-1] - rss[1]) / 1024 if len(rss) > 2 else None
    return pct(alone, 0.99), pct(beside, 0.99), pct(beside, 0.5), growth, (backlog[1], backlog[-1]) if len(backlog) > 1 else (None, None)


def fmt(v, digits=2):
    if isinstance(v, float) and 0 < abs(v) < 0.1:
        digits = 3  # HLS per stream is a few hundredths of a percent
    return "—" if v is None else (f"{v:,.{digits}f}" if isinstance(v, float) else f"{v:,}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    build = os.environ.get("BENCH_BUILD", "release")
    ap.add_argument("--livegate", default=os.path.join(ROOT, f".build/{build}/livegate"))
    ap.add_argument("--rtmp-bench", default=os.path.join(ROOT, f".build/{build}/rtmp-bench"))
    ap.add_argument("--ingest-seconds", type=float, default=15)
    ap.add_argument("--capacity-publishers", default="2000,4000", help="comma-separated publisher counts")
    ap.add_argument("--cores-publishers", type=int, default=1500)
    ap.add_argument("--cores-seconds", type=float, default=20)
    ap.add_argument("--ffmpeg-publishers", type=int, default=20)
    ap.add_argument("--ffmpeg-loops", type=int, default=2, help="ffmpeg: the 10 s clip is sent 1 + this many times")
    ap.add_argument("--ffmpeg-hls", choices=["off", "on", "both"], default="both", help="ffmpeg: with HLS off, on, or both")
    ap.add_argument("--scale-sizes", default="1000,10000,100000,1000000")
    ap.add_argument("--pin", action="store_true", help="servers on core 0, load generators on core 1 (taskset)")
    ap.add_argument("--capacity-seconds", type=float, default=60)
    ap.add_argument("--capacity-rate", type=float, default=200)
    ap.add_argument("--capacity-interval-ms", type=int, default=20,
                    help="capacity runs: each publisher sends what is due this often (the load generator's cost falls with it)")
    ap.add_argument("--seed-channels", type=int, default=100_000)
    ap.add_argument("--accept-publishers", type=int, default=250)
    ap.add_argument("--accept-rate", type=float, default=50)
    ap.add_argument("--hls-streams", type=int, default=10)
    ap.add_argument("--hls-seconds", type=float, default=20)
    ap.add_argument("--hls-warmup", type=float, default=0,
                    help="HLS CPU counted only after this many seconds of load (steady state: LiveGate reuses segment files "
                         "once a file has been out of the playlist for its length plus one segment, 26 s by default)")
    ap.add_argument("--wrk-seconds", type=int, default=10)
    ap.add_argument("--webhook-rounds", type=int, default=6, help="webhooks: rounds (the first with the healthy receiver alone)")
    ap.add_argument("--webhook-channels", type=int, default=100)
    ap.add_argument("--webhook-rate", type=float, default=10, help="webhooks: channels going live per second (× 2 events/s)")
    ap.add_argument("--webhook-seconds", type=float, default=5, help="webhooks: seconds each channel stays live")
    ap.add_argument("--postgres-url", default="", help="LiveGate's store on this PostgreSQL database — emptied first (accept, scale: "
                    "the PostgreSQL figures)")
    ap.add_argument("--only", default="", help="comma-separated subset: ingest,cores,capacity,ffmpeg,accept,scale,hls,api,webhooks")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    only = set(filter(None, args.only.split(",")))
    global PIN_SERVER, PIN_LOAD
    if args.pin:
        PIN_SERVER, PIN_LOAD = ["taskset", "-c", "0"], "1"

    def wanted(name):
        return not only or name in only

    work = tempfile.mkdtemp(prefix="livegate-bench-")
    workers = os.cpu_count() or 2
    lg = LiveGate(args.livegate, 31935, 31980, work, args.postgres_url)
    ng = Nginx(31936, work, workers)
    rows, results = [], {}
    try:
        lg.start()
        ng.start()
        if wanted("ingest"):
            log("ingest CPU per GiB (20 flat-out publishers, 3 Mbit/s clip, no HLS/recording)")
            a = ingest_cpu_per_gib(lg, args.rtmp_bench, args.runs, args.ingest_seconds)
            b = ingest_cpu_per_gib(ng, args.rtmp_bench, args.runs, args.ingest_seconds)
            rows.append(("ingest CPU s per GiB (lower is better)", a, b, "ratio ≤ 1.0"))
        if wanted("cores"):
            n = args.cores_publishers
            log(f"cores busy with {n} real-time publishers ({args.cores_seconds:.0f} s of steady state, runs interleaved)")
            r = realtime_cores([lg, ng], args.rtmp_bench, args.runs, n, args.cores_seconds, args.capacity_rate)
            spread = lambda v: f" (runs {', '.join(f'{x:.3f}' for x in v)})"
            rows.append((f"cores busy, {n} real-time ~600 kbit/s publishers, steady state", median(r[lg.name]["cores"]), median(r[ng.name]["cores"]),
                         "ratio ≤ 0.8 (SRS ≈ 0.6)"))
            rows.append((f"failures among them", max(r[lg.name]["failed"]), max(r[ng.name]["failed"]), "0"))
            rows.append((f"load generator cores in the same window", median(r[lg.name]["load"]), median(r[ng.name]["load"]), "(not counted)"))
            log("  spread: LiveGate" + spread(r[lg.name]["cores"]) + ", nginx-rtmp" + spread(r[ng.name]["cores"]))
        if wanted("capacity"):
            for n in (int(x) for x in str(args.capacity_publishers).split(",")):
                pace = "" if args.capacity_interval_ms == 20 else f", sending every {args.capacity_interval_ms} ms"
                log(f"{n} real-time publishers at ~600 kbit/s for {args.capacity_seconds:.0f} s{pace} (runs interleaved)")
                r = realtime_capacity_interleaved([lg, ng], args.rtmp_bench, args.runs, n, args.capacity_seconds, args.capacity_rate,
                                                  args.capacity_interval_ms)
                rows.append((f"failures, {n} real-time publishers for {args.capacity_seconds:.0f} s{pace} (worst run)", max(r[lg.name]["failed"]),
                             max(r[ng.name]["failed"]), "0"))
                rows.append((f"resident KiB per publisher at {n}", median(r[lg.name]["kib"]), median(r[ng.name]["kib"]), "≤ 40 KiB"))
                rows.append((f"load generator cores at {n}", median(r[lg.name]["load"]), median(r[ng.name]["load"]), "(shares the cores)"))
        if wanted("ffmpeg"):
            for hls in {"off": (False,), "on": (True,), "both": (False, True)}[args.ffmpeg_hls]:
                n = args.ffmpeg_publishers
                log(f"ingest CPU per GiB, {n} ffmpeg -c copy publishers flat out{' with HLS on' if hls else ''} (runs interleaved)")
                r = ffmpeg_ingest([lg, ng], args.runs, n, args.ffmpeg_loops, hls)
                rows.append((f"ingest CPU s per GiB, {n} ffmpeg -c copy publishers flat out, HLS {'on' if hls else 'off'}",
                             median(r[lg.name]), median(r[ng.name]), "ratio ≤ 0.8"))
                if hls:
                    rows.append(("  packets LiveGate's HLS dropped keeping up (median; nginx-rtmp slows the publishers)", median(r["drops"]), None, "(reported)"))
        if wanted("scale"):
            sizes = [int(x) for x in args.scale_sizes.split(",")]
            log(f"scale: accept and API latency with {', '.join(f'{n:,}' for n in sizes)} channels")
            for n, (a, _, ac), rps, p99, rss in channel_scale(args.livegate, args.rtmp_bench, sizes, args.accept_publishers, args.accept_rate,
                                                               args.wrk_seconds):
                # Two LiveGate figures side by side (no nginx-rtmp column: it has no store).
                rows.append((f"{n:,} channels: accept p99 ms — publish command | TCP connect", ac, a, "flat"))
                rows.append((f"{n:,} channels: GET /v1/channels/{{id}} — req/s | p99 ms", rps, p99, "flat"))
        if wanted("accept"):
            log(f"publish-accept latency at {args.accept_rate:.0f}/s with {args.seed_channels:,} channels in the store")
            seeded = lg.seed(args.seed_channels)
            hook = WebhookReceiver()
            lg.request("POST", "/v1/webhooks", {"url": f"http://127.0.0.1:{hook.port}/hook", "events": ["channel.live"]})
            a, h, ac = accept_latency(lg, args.rtmp_bench, args.runs, seeded, args.accept_publishers, args.accept_rate, webhook=hook)
            b, _, bc = accept_latency(ng, args.rtmp_bench, args.runs, [], args.accept_publishers, args.accept_rate)
            hook.stop()
            rows.append((f"publish-accept p99 ms, publish command → Publish.Start ({args.seed_channels:,} channels, {args.accept_rate:.0f}/s)",
                         ac, bc, "≤ 5 ms SQLite"))
            rows.append((f"publish-accept p99 ms, TCP connect → Publish.Start", a, b, "(reference)"))
            rows.append(("webhook channel.live p99 ms after Publish.Start", h, None, "≤ 50 ms"))
        if wanted("webhooks"):
            n, ev = args.webhook_channels, 2 * args.webhook_rate
            log(f"webhook lanes: {n} channels live/offline at {ev:.0f} events/s, healthy + 4 s + refusing receivers, {args.webhook_rounds} rounds")
            lg.stop()
            lg.start()
            p99_alone, p99, p50, growth, (b0, b1) = webhook_lanes(lg, args.rtmp_bench, args.webhook_rounds, n, args.webhook_rate, args.webhook_seconds)
            rows.append((f"webhook channel.live p99 ms, healthy receiver alone ({ev:.0f} events/s)", p99_alone, None, "(baseline)"))
            rows.append(("webhook channel.live p99 ms, beside a 4 s and a refusing receiver", p99, None, "≤ 100 ms"))
            rows.append(("webhook channel.live p50 ms, beside a 4 s and a refusing receiver", p50, None, "(reference)"))
            rows.append((f"RSS growth MiB while the failing backlog grew {b0} → {b1}", growth, None, "flat (≈ 0)"))
        if wanted("hls"):
            log(f"HLS remux CPU per stream ({args.hls_streams} real-time streams, {args.hls_seconds:.0f} s"
                + (f" after {args.hls_warmup:.0f} s of load)" if args.hls_warmup else ")"))
            a = hls_cpu_livegate(lg, args.rtmp_bench, args.runs, args.hls_streams, args.hls_seconds, args.hls_warmup)
            f = hls_cpu_ffmpeg(ng, args.rtmp_bench, args.runs, args.hls_streams, args.hls_seconds, work)
            n = hls_cpu_nginx(ng, args.rtmp_bench, args.runs, args.hls_streams, args.hls_seconds, args.hls_warmup)
            rows.append(("HLS remux CPU % of a core per stream vs ffmpeg -c copy -f hls", a and a * 100, f and f * 100, "≤ 0.5 × ffmpeg"))
            rows.append(("HLS remux CPU % of a core per stream vs nginx-rtmp hls on", a and a * 100, n and n * 100, "(reference)"))
        if wanted("api"):
            log("API: wrk GET /v1/channels/{id}, then POST /v1/channels")
            channel = lg.channels(1)[0][0]
            gets = [api_wrk(lg, args.wrk_seconds, channel) for _ in range(args.runs)]
            posts = [api_wrk(lg, args.wrk_seconds, post=True) for _ in range(args.runs)]
            for name, runs in (("GET", gets), ("POST", posts)):
                log(f"  {name}: " + ", ".join(f"{rps:,.0f}/s p99 {p99} ms" for rps, p99 in runs))
            rows.append(("API GET /v1/channels/{id} requests/s (wrk -t2 -c32)", median([r for r, _ in gets]), None, "≥ 10,000"))
            rows.append(("API GET /v1/channels/{id} p99 ms", median([p for _, p in gets]), None, "≤ 10 ms"))
            rows.append(("API POST /v1/channels requests/s (wrk -t2 -c32, SQLite synchronous=NORMAL)", median([r for r, _ in posts]), None, "≥ 1,000"))
            rows.append(("API POST /v1/channels p99 ms", median([p for _, p in posts]), None, "(reference)"))
    finally:
        lg.stop()
        ng.stop()

    print(f"\nLiveGate vs nginx-rtmp — {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, median of {args.runs} runs\n")
    print(f"| {'benchmark':<70} | {'LiveGate':>10} | {'nginx-rtmp':>10} | {'ratio':>6} | target |")
    print(f"|{'-' * 72}|{'-' * 12}|{'-' * 12}|{'-' * 8}|--------|")
    for name, a, b, target in rows:
        ratio = a / b if isinstance(a, (int, float)) and isinstance(b, (int, float)) and abs(b) > 1e-3 and target != "flat" else None
        print(f"| {name:<70} | {fmt(a):>10} | {fmt(b):>10} | {fmt(ratio):>6} | {target} |")
        results[name] = {"livegate": a, "nginx": b, "ratio": ratio, "target": target}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
