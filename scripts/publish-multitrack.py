#!/usr/bin/env python3
"""Publishes an Enhanced-RTMP multitrack stream the way OBS's Enhanced Broadcasting does:
several renditions of one picture, each its own encoder, keyframes at the same instants, with
FFmpeg 8's FLV muxer and RTMP client (PyAV) — track 0 as a classic AVC message, every other
track as a Multitrack/OneTrack message with its track id. Paced in real time.

Usage: publish-multitrack.py RTMP_URL SECONDS WxH[:ENCODER] [WxH[:ENCODER] ...] [--audio ENC[,ENC]]
  e.g. publish-multitrack.py rtmp://127.0.0.1:1935/live/KEY 8 1280x720 640x360 --audio aac
"""
import logging
import sys
import time

import av
import av.logging


def note(message):
    """Progress on stderr with the time since start: a test that fails prints it, and it says
    where the publish got to (connected, how much was sent) — FFmpeg's own RTMP log is there too."""
    print(f"publish-multitrack {time.monotonic() - STARTED:7.3f}s {message}", file=sys.stderr, flush=True)


STARTED = time.monotonic()

VIDEO_OPTIONS = {
    "libx264": {"preset": "ultrafast", "tune": "zerolatency", "g": "30", "keyint_min": "30", "sc_threshold": "0"},
    "libx265": {"x265-params": "log-level=none:keyint=30:min-keyint=30:scenecut=0"},
    # Low delay, as a live encoder is set up: SVT-AV1's default (random access, lookahead) holds
    # 1.5 s or more of frames before its first packet, and the RTMP publish starts only then.
    "libsvtav1": {"preset": "12", "svtav1-params": "keyint=30:pred-struct=1:lookahead=0"},
    "libvpx-vp9": {"deadline": "realtime", "cpu-used": "8", "g": "30", "keyint_min": "30"},
}
AUDIO = {"aac": ("fltp", 1024), "libopus": ("s16", 960), "ac3": ("fltp", 1536), "flac": ("s16", 4608), "libmp3lame": ("s16p", 1152)}


def main():
    args = sys.argv[1:]
    audio = []
    if "--audio" in args:
        i = args.index("--audio")
        audio = [a for a in args[i + 1].split(",") if a]
        del args[i:i + 2]
    url, seconds, renditions = args[0], float(args[1]), args[2:]
    fps = 30
    # FFmpeg's messages (its RTMP client's connect/publish steps at verbose) on stderr, as ffmpeg prints them.
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(name)s: %(message)s")
    av.logging.set_level(av.logging.VERBOSE)
    note(f"opening {url.rsplit('/', 1)[0]}/…")
    muxed = 0
    with av.open(url, "w", format="flv") as out:
        videos = []
        for spec in renditions:
            size, _, encoder = spec.partition(":")
            width, height = (int(x) for x in size.split("x"))
            s = out.add_stream(encoder or "libx264", rate=fps, options=VIDEO_OPTIONS.get(encoder or "libx264", {}))
            s.width, s.height, s.pix_fmt = width, height, "yuv420p"
            videos.append(s)
        audios = []
        for name in audio:
            s = out.add_stream(name, rate=48000)
            s.layout = "stereo"
            audios.append(s)
        start = time.monotonic()
        samples = [0] * len(audios)
        for i in range(int(seconds * fps)):
            for s in videos:
                frame = av.VideoFrame(s.width, s.height, "yuv420p")
                for n, plane in enumerate(frame.planes):
                    plane.update(bytes([(i * 3 + n * 40) % 256]) * plane.buffer_size)
                frame.pts = i
                for packet in s.encode(frame):
                    if muxed == 0:
                        note("first packet: connecting (PyAV opens the RTMP connection on the first mux)")
                    out.mux(packet)
                    muxed += 1
                    if muxed == 1:
                        # FFmpeg's RTMP client returns from its open once the server said
                        # NetStream.Publish.Start.
                        note("published, first packet sent")
            for k, s in enumerate(audios):
                fmt, size = AUDIO.get(audio[k], ("fltp", 1024))
                while samples[k] < (i + 1) * 48000 // fps:
                    frame = av.AudioFrame(format=fmt, layout="stereo", samples=size)
                    for plane in frame.planes:
                        plane.update(bytes(plane.buffer_size))
                    frame.sample_rate = 48000
                    frame.pts = samples[k]
                    samples[k] += size
                    for packet in s.encode(frame):
                        out.mux(packet)
                        muxed += 1
            ahead = start + (i + 1) / fps - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
        for s in videos + audios:
            for packet in s.encode(None):
                out.mux(packet)
                muxed += 1
        note(f"sent {muxed} packets; closing")
    note("closed")


if __name__ == "__main__":
    main()
