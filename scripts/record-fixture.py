#!/usr/bin/env python3
"""Records the bytes an RTMP client sends, for the decoder fixtures.

Listens on --listen, forwards to --upstream (any RTMP server: `ffmpeg -listen 1`, LiveGate,
nginx-rtmp), and writes everything the client sent to --out. Exits when the client closes.

    scripts/record-fixture.py --listen 19401 --upstream 19400 --out Tests/RTMPCoreTests/Fixtures/ffmpeg-publish.bin
"""
import argparse, socket, threading

p = argparse.ArgumentParser()
p.add_argument("--listen", type=int, required=True)
p.add_argument("--upstream", type=int, required=True)
p.add_argument("--out", required=True)
a = p.parse_args()

srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", a.listen))
srv.listen(1)
client, _ = srv.accept()
upstream = socket.create_connection(("127.0.0.1", a.upstream))
recorded = bytearray()

def pump(src, dst, record):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if record:
                recorded.extend(data)
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try: dst.shutdown(socket.SHUT_WR)
        except OSError: pass

t1 = threading.Thread(target=pump, args=(client, upstream, True))
t2 = threading.Thread(target=pump, args=(upstream, client, False))
t1.start(); t2.start(); t1.join(); t2.join(timeout=2)
open(a.out, "wb").write(bytes(recorded))
print(f"recorded {len(recorded)} bytes to {a.out}")
