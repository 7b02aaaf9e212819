#!/usr/bin/env python3
"""Writes an HDR10 HEVC stream (x265, BT.2020, SMPTE ST 2084) into Enhanced-RTMP FLV with FFmpeg
8's muxer (PyAV), which sends the colour as a VideoPacketType.Metadata `colorInfo` packet, and
prints as JSON what FFmpeg reads back of the colour: the answer for
Tests/RTMPCoreTests/MultitrackParserTests.swift.

Usage: hdr-fixture.py OUT.flv
"""
import json
import sys

import av


def main():
    path = sys.argv[1]
    with av.open(path, "w", format="flv") as out:
        s = out.add_stream("libx265", rate=30, options={"x265-params": "log-level=none:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc"})
        s.width, s.height, s.pix_fmt = 320, 240, "yuv420p10le"
        cc = s.codec_context
        cc.color_primaries, cc.color_trc, cc.colorspace = 9, 16, 9
        for i in range(10):
            frame = av.VideoFrame(320, 240, "yuv420p10le")
            for plane in frame.planes:
                plane.update(bytes(plane.buffer_size))
            frame.pts = i
            for packet in s.encode(frame):
                out.mux(packet)
        for packet in s.encode(None):
            out.mux(packet)
    with av.open(path) as f:
        c = f.streams.video[0].codec_context
        print(json.dumps({"colorPrimaries": int(c.color_primaries), "transferCharacteristics": int(c.color_trc),
                          "matrixCoefficients": int(c.colorspace)}))


if __name__ == "__main__":
    main()
