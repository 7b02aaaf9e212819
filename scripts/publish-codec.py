#!/usr/bin/env python3
"""Publishes a synthetic video stream over RTMP with FFmpeg 8's encoders and Enhanced-RTMP FLV
muxer (PyAV), paced in real time: what an HEVC, AV1 or VP9 encoder of today sends.

Usage: publish-codec.py RTMP_URL ENCODER WIDTH HEIGHT SECONDS [PIX_FMT]
"""
import sys
import time

import av

OPTIONS = {
    "libx265": {"x265-params": "log-level=none:keyint=30"},
    # Low delay, as a live encoder is set up: SVT-AV1's default (random access, lookahead) holds
    # 1.5 s or more of frames before its first packet, and the RTMP publish starts only then.
    "libsvtav1": {"preset": "12", "svtav1-params": "keyint=30:pred-struct=1:lookahead=0"},
    "libvpx-vp9": {"deadline": "realtime", "cpu-used": "8", "g": "30"},
    "libx264": {"preset": "ultrafast", "g": "30"},
}


def main():
    url, encoder, width, height, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    pix_fmt = sys.argv[6] if len(sys.argv) > 6 else "yuv420p"
    fps = 30
    with av.open(url, "w", format="flv") as out:
        stream = out.add_stream(encoder, rate=fps, options=OPTIONS.get(encoder, {}))
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        start = time.monotonic()
        for i in range(int(seconds * fps)):
            frame = av.VideoFrame(width, height, pix_fmt)
            for n, plane in enumerate(frame.planes):
                plane.update(bytes([(i * 3 + n * 40) % 256]) * plane.buffer_size)
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
            ahead = start + (i + 1) / fps - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
        for packet in stream.encode(None):
            out.mux(packet)


if __name__ == "__main__":
    main()
