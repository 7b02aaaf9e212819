#!/usr/bin/env python3
"""Creates N channels on a running gateway and prints their stream keys, one per line — the
keys file `rtmp-bench --keys-file` reads. Used by bench/profile.sh and bench/heap.sh.
  bench/make-channels.py N [--hls] [--port 32980]
Credentials from LIVE_TOKEN_ID / LIVE_TOKEN_SECRET (the gateway's bootstrap token)."""
import argparse, base64, http.client, json, os

ap = argparse.ArgumentParser()
ap.add_argument("count", type=int)
ap.add_argument("--hls", action="store_true")
ap.add_argument("--port", type=int, default=32980)
args = ap.parse_args()
auth = "Basic " + base64.b64encode(f"{os.environ['LIVE_TOKEN_ID']}:{os.environ['LIVE_TOKEN_SECRET']}".encode()).decode()
c = http.client.HTTPConnection("127.0.0.1", args.port)
for i in range(1, args.count + 1):
    body = json.dumps({"name": f"p{i}", "userId": "prof", "hls": args.hls, "record": False})
    c.request("POST", "/v1/channels", body=body, headers={"Authorization": auth, "Content-Type": "application/json"})
    r = c.getresponse()
    data = json.loads(r.read())
    if r.status != 201:
        raise SystemExit(f"POST /v1/channels answered {r.status}: {data}")
    print(data["data"]["streamId"])
