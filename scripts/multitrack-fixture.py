#!/usr/bin/env python3
"""Writes an Enhanced-RTMP v2 multitrack FLV with FFmpeg 8's encoders and FLV muxer (PyAV) —
two video tracks of different codecs and sizes (H.264 track 0, HEVC track 1), AAC track 0 and
5.1 Opus track 1 (sent with a MultichannelConfig) — and prints, as JSON, what FFmpeg reads
back from the file: the independent answer Tests/RTMPCoreTests/MultitrackParserTests.swift
checks RTMPCore's multitrack parsing against.

Usage: multitrack-fixture.py OUT.flv
       multitrack-fixture.py --probe FILE.flv   (only print what FFmpeg reads of an existing file)
"""
import json
import sys

import av


def probe(path):
    streams = []
    with av.open(path) as f:
        counts = {}
        for packet in f.demux():
            if packet.size:
                counts[packet.stream.index] = counts.get(packet.stream.index, 0) + 1
        for s in f.streams:
            c = s.codec_context
            streams.append({"kind": s.type, "codec": c.name, "width": getattr(c, "width", 0) or 0,
                            "height": getattr(c, "height", 0) or 0, "sampleRate": getattr(c, "sample_rate", 0) or 0,
                            "channels": getattr(c, "channels", 0) or 0, "packets": counts.get(s.index, 0)})
    return streams


def main():
    if sys.argv[1] == "--probe":
        print(json.dumps(probe(sys.argv[2])))
        return
    path = sys.argv[1]
    with av.open(path, "w", format="flv") as out:
        v0 = out.add_stream("libx264", rate=30, options={"preset": "ultrafast", "g": "15"})
        v0.width, v0.height, v0.pix_fmt = 640, 360, "yuv420p"
        v1 = out.add_stream("libx265", rate=30, options={"x265-params": "log-level=none:keyint=15"})
        v1.width, v1.height, v1.pix_fmt = 426, 240, "yuv420p"
        a0 = out.add_stream("aac", rate=44100)
        a0.layout = "stereo"
        a1 = out.add_stream("libopus", rate=48000)
        a1.layout = "5.1"
        for i in range(45):
            for s in (v0, v1):
                frame = av.VideoFrame(s.width, s.height, "yuv420p")
                for n, plane in enumerate(frame.planes):
                    plane.update(bytes([(i * 5 + n * 30) % 256]) * plane.buffer_size)
                frame.pts = i
                for packet in s.encode(frame):
                    out.mux(packet)
        for s, fmt, size, rate in ((a0, "fltp", 1024, 44100), (a1, "s16", 960, 48000)):
            for i in range(60):
                frame = av.AudioFrame(format=fmt, layout=s.layout.name, samples=size)
                for plane in frame.planes:
                    plane.update(bytes(plane.buffer_size))
                frame.sample_rate = rate
                frame.pts = i * size
                for packet in s.encode(frame):
                    out.mux(packet)
        for s in (v0, v1, a0, a1):
            for packet in s.encode(None):
                out.mux(packet)
    print(json.dumps(probe(path)))


if __name__ == "__main__":
    main()
