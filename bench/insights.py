#!/usr/bin/env python3
"""Insights latency with a year of a busy user's history (issue #23 item 4; docs/api.md, "Insights").

Seeds 50 channels x 20 sessions a day x 365 days = 365,000 sessions of one user (10-60 min each,
some across midnight, with bytes, health seconds and hourly peaks as the gateway records them)
straight into the store of a stopped gateway, starts it, and times GET /v1/insights/usage from
the client (HTTP included): a year by day, the last 30 days by hour, one channel's year by day.

    python3 bench/insights.py [--livegate .build/release/livegate] [--postgres postgres://…] [--requests 30] [--channels 50]

With --postgres the same history goes into that (scratch) database, through `psql` COPY.
"""
import argparse
import csv
import io
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import LiveGate, ROOT, log  # noqa: E402

USER, CHANNELS, PER_DAY, DAYS = "busy", 50, 20, 365
YEAR_START_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z


def iso(ms):
    t = time.gmtime(ms // 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{ms % 1000:03d}Z"


def history(channel_ids):
    """Rows of the sessions table (the columns Insights reads, and the required ones)."""
    rng = random.Random(23)
    for c, channel in enumerate(channel_ids):
        for day in range(DAYS):
            base = YEAR_START_MS + day * 86_400_000
            # 20 sessions spread over the day, in order, not overlapping on one channel.
            slot = 86_400_000 // PER_DAY
            for k in range(PER_DAY):
                start = base + k * slot + rng.randrange(0, slot - 3_600_000)
                length = rng.randrange(600_000, 3_600_000)
                if k == PER_DAY - 1 and rng.random() < 0.3:
                    length += 3_600_000  # into the next day
                end = start + length
                yield (f"ses_b{c:02d}{day:03d}{k:02d}", channel, "bench", iso(start), iso(end), "10.0.0.1:1", "ffmpeg", "h264", "aac",
                       length * 100, 0, 0, "unpublished", "[]", USER, rng.random() * 60, rng.random() * 10, start, end)


COLUMNS = ["id", "channel_id", "node_id", "started_at", "ended_at", "remote_addr", "encoder", "video_codec", "audio_codec",
           "bytes_in", "video_frames", "audio_frames", "end_reason", "connections", "user_id", "degraded_sec", "starving_sec",
           "started_ms", "ended_ms"]


def peaks():
    for hour in range(DAYS * 24):
        yield (USER, YEAR_START_MS + hour * 3_600_000, 40 + hour % 10)


def seed_sqlite(path, channel_ids):
    db = sqlite3.connect(path)
    with db:
        db.executemany(f"INSERT INTO sessions ({','.join(COLUMNS)}) VALUES ({','.join('?' * len(COLUMNS))})", history(channel_ids))
        db.executemany("INSERT INTO live_peaks (user_id, hour_ms, peak) VALUES (?, ?, ?)", peaks())
        db.execute("INSERT OR REPLACE INTO session_bounds (user_id, longest_ms) VALUES (?, ?)", (USER, 7_200_000))
        db.execute("INSERT OR REPLACE INTO session_bounds (user_id, longest_ms) VALUES ('*', ?)", (7_200_000,))
        for sql in rollup_sql("REAL"):
            db.execute(sql)
    db.execute("ANALYZE")
    db.close()


def seed_postgres(url, channel_ids):
    def copy(table, columns, rows):
        buf = io.StringIO()
        w = csv.writer(buf)
        for r in rows:
            w.writerow(r)
        subprocess.run(["psql", url, "-q", "-c", f"COPY {table} ({','.join(columns)}) FROM STDIN WITH (FORMAT csv)"],
                       input=buf.getvalue().encode(), check=True)
    copy("sessions", COLUMNS, history(channel_ids))
    copy("live_peaks", ["user_id", "hour_ms", "peak"], peaks())
    subprocess.run(["psql", url, "-q", "-c",
                    "INSERT INTO session_bounds (user_id, longest_ms) VALUES ('busy', 7200000), ('*', 7200000) "
                    "ON CONFLICT (user_id) DO UPDATE SET longest_ms = 7200000"], check=True)
    for sql in rollup_sql("DOUBLE PRECISION"):
        subprocess.run(["psql", url, "-q", "-c", sql], check=True)
    subprocess.run(["psql", url, "-q", "-c", "ANALYZE"], check=True)


def rollup_sql(real):
    """Migration 21's fill of usage_hourly from ended sessions (Sources/ChannelStore/SQL/Migrations.swift):
    the seeded history bypasses the gateway's writes, so the roll-up is made the way an upgrade makes it."""
    out = ["DELETE FROM usage_hourly"]
    for scope in ["'u:' || s.user_id", "'c:' || s.channel_id", "'*'"]:
        part = "((CASE WHEN en < h + 3600000 THEN en ELSE h + 3600000 END) - (CASE WHEN st > h THEN st ELSE h END))"
        out.append(f"""
            WITH RECURSIVE o(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM o
                WHERE k < (SELECT COALESCE(MAX(ended_ms - started_ms), 0) / 3600000 + 1 FROM sessions WHERE ended_ms IS NOT NULL)),
              parts AS (SELECT {scope} AS scope, (s.started_ms / 3600000 + o.k) * 3600000 AS h, o.k AS k, s.started_ms AS st, s.ended_ms AS en,
                  CAST(s.bytes_in AS {real}) AS bytes, s.degraded_sec AS deg, s.starving_sec AS stv
                FROM sessions s JOIN o ON (s.started_ms / 3600000 + o.k) * 3600000 < s.ended_ms
                WHERE s.ended_ms IS NOT NULL AND s.user_id IS NOT NULL)
            INSERT INTO usage_hourly (scope, hour_ms, streamed_ms, sessions, bytes_in, degraded_sec, starving_sec, live_at_start)
            SELECT scope, h, SUM({part}), SUM(CASE WHEN k = 0 THEN 1 ELSE 0 END),
              SUM(bytes * {part} / (CASE WHEN en > st THEN en - st ELSE 1 END)), SUM(deg * {part} / (CASE WHEN en > st THEN en - st ELSE 1 END)),
              SUM(stv * {part} / (CASE WHEN en > st THEN en - st ELSE 1 END)), SUM(CASE WHEN k > 0 THEN 1 ELSE 0 END)
            FROM parts GROUP BY scope, h""")
    return out


def timed(lg, path, n):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        status, body = lg.request("GET", path)
        times.append((time.perf_counter() - t) * 1000)
        if status != 200:
            raise RuntimeError(f"{path}: {status} {body}")
    return statistics.median(times), sorted(times)[int(len(times) * 0.95) - 1], body


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--livegate", default=os.path.join(ROOT, ".build/release/livegate"))
    ap.add_argument("--postgres", help="a scratch PostgreSQL database URL (emptied tables are not required: the history is added)")
    ap.add_argument("--requests", type=int, default=30)
    ap.add_argument("--channels", type=int, default=CHANNELS, help="the busy user's channels (each with a year of history)")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="livegate-insights-")
    lg = LiveGate(args.livegate, 32935, 32980, work)
    if args.postgres:
        os.environ["LIVEGATE_DATABASE_URL"] = args.postgres
    lg.start()
    try:
        channels = [c for c, _ in lg.channels(args.channels)]
        # The channels belong to the busy user.
        lg.stop()
        log(f"seeding {args.channels * PER_DAY * DAYS:,} sessions ({'PostgreSQL' if args.postgres else 'SQLite'})")
        started = time.time()
        if args.postgres:
            seed_postgres(args.postgres, channels)
            subprocess.run(["psql", args.postgres, "-q", "-c", f"UPDATE channels SET user_id = '{USER}' WHERE id IN ({','.join(repr(c) for c in channels)})"],
                           check=True)
        else:
            path = os.path.join(work, "data", "livegate.sqlite")
            seed_sqlite(path, channels)
            db = sqlite3.connect(path)
            with db:
                db.execute(f"UPDATE channels SET user_id = ? WHERE id IN ({','.join('?' * len(channels))})", [USER] + channels)
            db.close()
        log(f"seeded in {time.time() - started:.0f} s")
        lg.start()
        year = "from=2025-01-01T00:00:00Z&to=2026-01-01T00:00:00Z"
        # The answer checked against the sessions themselves: every minute of the year's sessions
        # (those crossing into 2026 counted up to midnight).
        ends = "(CASE WHEN ended_ms > 1767225600000 THEN 1767225600000 ELSE ended_ms END)"
        expected_sql = f"SELECT SUM({ends} - started_ms) / 60000.0 FROM sessions WHERE user_id = '{USER}' AND started_ms < 1767225600000"
        if args.postgres:
            expected = float(subprocess.run(["psql", args.postgres, "-At", "-c", expected_sql], check=True, capture_output=True).stdout)
        else:
            db = sqlite3.connect(os.path.join(work, "data", "livegate.sqlite"))
            expected = db.execute(expected_sql).fetchone()[0]
            db.close()
        cases = [
            ("a year by day, one user (365 buckets)", f"/v1/insights/usage?userId={USER}&{year}&bucket=day"),
            ("30 days by hour, one user (720 buckets)", f"/v1/insights/usage?userId={USER}&from=2025-12-02T00:00:00Z&to=2026-01-01T00:00:00Z&bucket=hour"),
            ("a year by day, one channel", f"/v1/insights/usage?channelId={channels[0]}&{year}&bucket=day"),
        ]
        print(f"| query ({'PostgreSQL' if args.postgres else 'SQLite'}, {args.channels * PER_DAY * DAYS:,} sessions) | median ms | p95 ms | minutes streamed |")
        print("| --- | ---: | ---: | ---: |")
        for name, path in cases:
            lg.request("GET", path)  # warm
            med, p95, body = timed(lg, path, args.requests)
            print(f"| {name} | {med:.1f} | {p95:.1f} | {body['data']['totals']['minutesStreamed']:,.0f} |")
            if name.startswith("a year by day, one user"):
                got = body["data"]["totals"]["minutesStreamed"]
                print(f"(sessions summed directly: {expected:,.0f} minutes; the answer {'matches' if abs(got - expected) < 1 else 'DIFFERS'})")
    finally:
        lg.stop()


if __name__ == "__main__":
    main()
