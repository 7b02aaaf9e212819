#!/usr/bin/env python3
"""A publisher that honours Enhanced RTMP's NetConnection.Connect.ReconnectRequest, as the
E-RTMP v2 specification describes it (no encoder ships this yet: OBS's client side is an open
pull request): it declares `capsEx` (Reconnect, Multitrack, ModEx, TimestampNanoOffset) and a
`fourCcList` in `connect`, publishes an FLV file's tags in real time, and when the server asks
it to reconnect it goes on to the next video keyframe, connects to the `tcUrl` it was given
(a fresh connection, publish with the same key), sends its sequence headers and continues from
that keyframe there, then closes the old connection. Each tag is sent once, on one connection.

Usage: reconnecting-publisher.py RTMP_URL FILE.flv [--no-caps]
Prints one JSON line per event, and a summary: {"sent": {"video": N, "audio": M}, "connections": K}.
"""
import json
import os
import queue
import socket
import struct
import sys
import threading
import time
from urllib.parse import urlsplit


def amf_encode(v):
    if v is None:
        return b"\x05"
    if isinstance(v, bool):
        return b"\x01" + (b"\x01" if v else b"\x00")
    if isinstance(v, (int, float)):
        return b"\x00" + struct.pack(">d", float(v))
    if isinstance(v, str):
        b = v.encode()
        return b"\x02" + struct.pack(">H", len(b)) + b
    if isinstance(v, list):
        return b"\x0a" + struct.pack(">I", len(v)) + b"".join(amf_encode(x) for x in v)
    if isinstance(v, dict):
        out = b"\x03"
        for k, x in v.items():
            kb = k.encode()
            out += struct.pack(">H", len(kb)) + kb + amf_encode(x)
        return out + b"\x00\x00\x09"
    raise TypeError(v)


def amf_decode(b, i=0):
    t = b[i]
    i += 1
    if t == 0:
        return struct.unpack(">d", b[i:i + 8])[0], i + 8
    if t == 1:
        return b[i] != 0, i + 1
    if t == 2:
        n = struct.unpack(">H", b[i:i + 2])[0]
        return b[i + 2:i + 2 + n].decode(errors="replace"), i + 2 + n
    if t in (3, 8):
        if t == 8:
            i += 4
        out = {}
        while True:
            n = struct.unpack(">H", b[i:i + 2])[0]
            i += 2
            if n == 0 and b[i] == 9:
                return out, i + 1
            k = b[i:i + n].decode(errors="replace")
            i += n
            out[k], i = amf_decode(b, i)
    if t in (5, 6):
        return None, i
    if t == 10:
        n = struct.unpack(">I", b[i:i + 4])[0]
        i += 4
        arr = []
        for _ in range(n):
            x, i = amf_decode(b, i)
            arr.append(x)
        return arr, i
    raise ValueError("AMF type %d" % t)


def amf_all(b):
    out, i = [], 0
    while i < len(b):
        v, i = amf_decode(b, i)
        out.append(v)
    return out


class Connection:
    """One RTMP connection: handshake, chunked messages out, a reader thread for commands in."""

    def __init__(self, url, caps, log):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port or 1935
        path = parts.path.lstrip("/")
        self.app, _, self.key = path.partition("/")
        self.query = parts.query
        self.tc_url = "%s://%s:%d/%s%s" % (parts.scheme, self.host, self.port, self.app, ("?" + self.query) if self.query else "")
        self.caps, self.log = caps, log
        self.sock = socket.create_connection((self.host, self.port), timeout=10)
        self.commands = queue.Queue()
        self.out_chunk = 128
        self.closed = False
        self.lock = threading.Lock()

    def handshake(self):
        c1 = struct.pack(">II", 0, 0) + os.urandom(1528)
        self.sock.sendall(b"\x03" + c1)
        s = self.recv_exact(1 + 1536 + 1536)
        self.sock.sendall(s[1:1537])
        threading.Thread(target=self.reader, daemon=True).start()

    def recv_exact(self, n):
        data = b""
        while len(data) < n:
            part = self.sock.recv(n - len(data))
            if not part:
                raise ConnectionError("closed")
            data += part
        return data

    def reader(self):
        in_chunk, headers, partial = 128, {}, {}
        try:
            while True:
                b0 = self.recv_exact(1)[0]
                fmt, csid = b0 >> 6, b0 & 0x3F
                if csid == 0:
                    csid = 64 + self.recv_exact(1)[0]
                elif csid == 1:
                    x = self.recv_exact(2)
                    csid = 64 + x[0] + x[1] * 256
                h = dict(headers.get(csid, {"ts": 0, "len": 0, "type": 0, "sid": 0}))
                if fmt <= 2:
                    ts = int.from_bytes(self.recv_exact(3), "big")
                if fmt <= 1:
                    h["len"] = int.from_bytes(self.recv_exact(3), "big")
                    h["type"] = self.recv_exact(1)[0]
                if fmt == 0:
                    h["sid"] = struct.unpack("<I", self.recv_exact(4))[0]
                if fmt <= 2 and ts == 0xFFFFFF:
                    self.recv_exact(4)
                headers[csid] = h
                buf = partial.get(csid, b"")
                buf += self.recv_exact(min(in_chunk, h["len"] - len(buf)))
                if len(buf) < h["len"]:
                    partial[csid] = buf
                    continue
                partial[csid] = b""
                if h["type"] == 1:
                    in_chunk = struct.unpack(">I", buf[:4])[0] & 0x7FFFFFFF
                elif h["type"] == 20:
                    self.commands.put(amf_all(buf))
        except Exception:
            self.closed = True
            self.commands.put(None)

    def send(self, type_id, payload, ts=0, csid=3, sid=0):
        ts_field = min(ts, 0xFFFFFF)
        header = bytes([csid]) + ts_field.to_bytes(3, "big") + len(payload).to_bytes(3, "big") + bytes([type_id]) + struct.pack("<I", sid)
        ext = struct.pack(">I", ts) if ts >= 0xFFFFFF else b""
        out = header + ext
        for i in range(0, len(payload), self.out_chunk):
            if i > 0:
                out += bytes([0xC0 | csid]) + ext
            out += payload[i:i + self.out_chunk]
        with self.lock:
            self.sock.sendall(out)

    def command(self, name, txn, obj=None, *args, sid=0):
        self.send(20, amf_encode(name) + amf_encode(txn) + amf_encode(obj) + b"".join(amf_encode(a) for a in args), sid=sid)

    def wait(self, predicate, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                c = self.commands.get(timeout=0.2)
            except queue.Empty:
                continue
            if c is None:
                raise ConnectionError("connection closed while waiting")
            if predicate(c):
                return c
            self.unhandled(c)
        raise TimeoutError("no answer")

    def unhandled(self, c):
        self.log({"event": "command", "name": c[0], "info": c[3] if len(c) > 3 else None})

    def publish(self):
        self.handshake()
        self.out_chunk = 4096
        self.send(1, struct.pack(">I", 4096), csid=2)
        obj = {"app": self.app + (("?" + self.query) if self.query else ""), "type": "nonprivate", "flashVer": "LiveGateReconnectTest/1.0",
               "tcUrl": self.tc_url}
        if self.caps:
            obj.update({"fourCcList": ["avc1", "hvc1", "av01", "mp4a", "Opus"], "capsEx": 15})
        self.command("connect", 1, obj)
        result = self.wait(lambda c: c[0] in ("_result", "_error") and c[1] == 1)
        if result[0] != "_result":
            raise ConnectionError("connect refused: %s" % result)
        self.server_caps = result[2]
        self.command("releaseStream", 2, None, self.key)
        self.command("FCPublish", 3, None, self.key)
        self.command("createStream", 4, None)
        created = self.wait(lambda c: c[0] == "_result" and c[1] == 4)
        self.sid = int(created[3])
        self.command("publish", 5, None, self.key, "live", sid=self.sid)
        status = self.wait(lambda c: c[0] == "onStatus" and isinstance(c[3], dict) and c[3].get("code", "").startswith("NetStream.Publish"))
        if status[3]["code"] != "NetStream.Publish.Start":
            raise ConnectionError("publish refused: %s" % status[3])

    def media(self, tag_type, ts, body):
        self.send(tag_type, body, ts=ts, csid=6 if tag_type == 9 else (4 if tag_type == 8 else 5), sid=self.sid)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def read_flv(path):
    d = open(path, "rb").read()
    p, tags = 13, []
    while p + 11 <= len(d):
        t, size = d[p], int.from_bytes(d[p + 1:p + 4], "big")
        ts = int.from_bytes(d[p + 4:p + 7], "big") | (d[p + 7] << 24)
        tags.append((t, ts, d[p + 11:p + 11 + size]))
        p += 11 + size + 4
    return tags


def is_keyframe(t, body):
    return t == 9 and len(body) > 1 and (body[0] >> 4) & 0x07 == 1 and (body[0] & 0x80 or body[1] == 1)


def is_header(t, body):
    if t == 18:
        return True
    if t == 9 and len(body) > 1:
        return (body[0] & 0x80 and body[0] & 0x0F == 0) or (not body[0] & 0x80 and body[1] == 0)
    if t == 8 and len(body) > 1:
        return (body[0] >> 4 == 10 and body[1] == 0) or (body[0] >> 4 == 9 and body[0] & 0x0F == 0)
    return False


def is_coded_frame(t, body):
    """A picture or a sound (not a sequence start or end): what a server counts as a frame."""
    if t == 9 and len(body) > 1:
        return body[0] & 0x0F != 7 or body[1] == 1 if not body[0] & 0x80 else body[0] & 0x0F in (1, 3)
    if t == 8 and len(body) > 1:
        return not is_header(t, body)
    return False


def main():
    url, path = sys.argv[1], sys.argv[2]
    caps = "--no-caps" not in sys.argv
    log = lambda e: print(json.dumps(e), flush=True)
    tags = read_flv(path)
    headers = [tag for tag in tags if is_header(tag[0], tag[2])]
    conn = Connection(url, caps, log)
    conn.publish()
    log({"event": "publishing", "serverCaps": {k: v for k, v in conn.server_caps.items() if k in ("capsEx", "fourCcList")}})
    sent = {"video": 0, "audio": 0}
    connections = 1
    moving_to = None
    old = None
    start = time.monotonic()
    for t, ts, body in tags:
        ahead = start + ts / 1000 - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
        # Commands from the server (a ReconnectRequest) while publishing.
        while True:
            try:
                c = conn.commands.get_nowait()
            except queue.Empty:
                break
            if c is None:
                log({"event": "closed_by_server"})
                print(json.dumps({"sent": sent, "connections": connections}))
                return
            info = c[3] if len(c) > 3 and isinstance(c[3], dict) else {}
            if c[0] == "onStatus" and info.get("code") == "NetConnection.Connect.ReconnectRequest":
                moving_to = info.get("tcUrl") or conn.tc_url
                log({"event": "reconnect_request", "tcUrl": moving_to.split("?")[0], "hasToken": "reconnect=" in moving_to})
            else:
                conn.unhandled(c)
        if moving_to and is_keyframe(t, body):
            # The next keyframe: a fresh connection to where we were sent, then go on there.
            parts = urlsplit(moving_to)
            target = "%s://%s:%d%s/%s%s" % (parts.scheme or "rtmp", parts.hostname, parts.port or 1935, parts.path, conn.key,
                                            ("?" + parts.query) if parts.query else "")
            new = Connection(target, caps, log)
            new.publish()
            for ht, hts, hbody in headers:
                new.media(ht, ts, hbody)
            old, conn, moving_to = conn, new, None
            connections += 1
            log({"event": "moved", "at": ts})
        if is_coded_frame(t, body):
            sent["video" if t == 9 else "audio"] += 1
        if t in (8, 9, 18):
            conn.media(t, ts, body)
        if old is not None:
            old.moved_at = getattr(old, "moved_at", None) or time.monotonic()
            if time.monotonic() - old.moved_at > 1.0:
                old.close()  # the new connection has carried on for a second: let the old one go
                old = None
    conn.command("FCUnpublish", 6, None, conn.key)
    conn.command("deleteStream", 7, None, conn.sid)
    time.sleep(0.3)
    conn.close()
    if old is not None:
        old.close()
    print(json.dumps({"sent": sent, "connections": connections}))


if __name__ == "__main__":
    main()
