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


AUDIO_CASES = [
    # name, encoder, sample rate, layout, sample format
    ("aac-44k-stereo", "aac", 44100, "stereo", "fltp"),
    ("aac-96k-mono", "aac", 96000, "mono", "fltp"),
    ("opus-stereo", "libopus", 48000, "stereo", "s16"),
    ("opus-mono", "libopus", 48000, "mono", "s16"),
    ("flac-48k", "flac", 48000, "stereo", "s16"),
    ("flac-96k-6ch", "flac", 96000, "5.1", "s16"),
    ("ac3-48k-51", "ac3", 48000, "5.1", "fltp"),
    ("ac3-44k-stereo", "ac3", 44100, "stereo", "fltp"),
    ("eac3-48k-stereo", "eac3", 48000, "stereo", "fltp"),
    ("mp3-48k-stereo", "libmp3lame", 48000, "stereo", "fltp"),
    ("mp3-44k-mono", "libmp3lame", 44100, "mono", "fltp"),
]


def write_audio(path, codec, rate, layout, fmt):
    with av.open(path, "w", format="flv") as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        stream.format = fmt
        samples = stream.codec_context.frame_size or 1024
        for i in range(20):
            frame = av.AudioFrame(format=fmt, layout=layout, samples=samples)
            for plane in frame.planes:
                plane.update(bytes(plane.buffer_size))
            frame.sample_rate = rate
            frame.pts = i * samples
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def read_back_audio(path):
    with av.open(path) as container:
        c = container.streams.audio[0].codec_context
        return {"codec": c.name, "sampleRate": c.sample_rate, "channels": c.channels if hasattr(c, "channels") else c.layout.nb_channels}


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
    audio = {}
    for name, codec, rate, layout, fmt in AUDIO_CASES:
        path = os.path.join(out_dir, name + ".flv")
        write_audio(path, codec, rate, layout, fmt)
        audio[name] = read_back_audio(path)
    print(json.dumps({"video": results, "audio": audio}))


if __name__ == "__main__":
    main()
