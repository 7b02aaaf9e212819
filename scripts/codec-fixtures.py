#!/usr/bin/env python3
"""Writes Enhanced-RTMP FLV files with FFmpeg 8's encoders and FLV muxer (PyAV), one per case,
and prints, as JSON, what FFmpeg itself reads back from each file: the independent answer the
codec parsers in RTMPCore are checked against (Tests/RTMPCoreTests/CodecParameterTests.swift).

Usage: codec-fixtures.py OUT_DIR
"""
import json
import os
import sys

import av

CASES = [
    # name, codec, width, height, pixel format, encoder options
    ("hevc-1080p", "libx265", 1920, 1080, "yuv420p", {"x265-params": "log-level=none"}),
    ("hevc-main10-422", "libx265", 640, 360, "yuv422p10le", {"x265-params": "log-level=none"}),
    ("hevc-odd", "libx265", 854, 482, "yuv420p", {"x265-params": "log-level=none"}),
    ("av1-720p", "libsvtav1", 1280, 720, "yuv420p", {"preset": "12"}),
    ("av1-10bit", "libsvtav1", 640, 360, "yuv420p10le", {"preset": "12"}),
    ("vp9-480p", "libvpx-vp9", 854, 480, "yuv420p", {"deadline": "realtime", "cpu-used": "8"}),
    ("vp9-profile1-444", "libvpx-vp9", 640, 360, "yuv444p", {"deadline": "realtime", "cpu-used": "8"}),
]


def write(path, codec, width, height, pix_fmt, options):
    with av.open(path, "w", format="flv") as out:
        stream = out.add_stream(codec, rate=30, options=options)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        for i in range(12):
            frame = av.VideoFrame(width, height, pix_fmt)
            for plane in frame.planes:
                plane.update(bytes([(i * 7 + 16) % 256]) * plane.buffer_size)
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def read_back(path):
    with av.open(path) as container:
        s = container.streams.video[0]
        c = s.codec_context
        fmt = c.format
        return {"codec": c.name, "width": c.width, "height": c.height, "pix_fmt": fmt.name if fmt else None,
                "bitDepth": fmt.components[0].bits if fmt else None, "profile": c.profile}


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    results = {}
    for name, codec, width, height, pix_fmt, options in CASES:
        path = os.path.join(out_dir, name + ".flv")
        write(path, codec, width, height, pix_fmt, options)
        results[name] = read_back(path)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
