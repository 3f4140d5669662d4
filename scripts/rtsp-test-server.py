#!/usr/bin/python3
"""A real RTSP server for the Decode tests (GStreamer's RTSP server through PyGObject).

Run with Debian's interpreter (pyenv's python3 has no `gi`):
    /usr/bin/python3 scripts/rtsp-test-server.py --port 8554 [--path /live] [--fps 25] [--gop 25]
Serves a live H.264 test pattern (320x240) at rtsp://127.0.0.1:PORT/live to any number of
TCP or UDP clients, and prints "READY rtsp://127.0.0.1:PORT/live" once it listens.
Tests kill it (dropped camera) or SIGSTOP it (hung camera).
"""
import argparse
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", default="/live")
    ap.add_argument("--fps", type=int, default=25)
    ap.add_argument("--gop", type=int, default=25)
    args = ap.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        "( videotestsrc is-live=true pattern=ball "
        f"! video/x-raw,width=320,height=240,framerate={args.fps}/1 "
        f"! x264enc tune=zerolatency speed-preset=ultrafast threads=1 key-int-max={args.gop} "
        "! rtph264pay name=pay0 pt=96 config-interval=-1 )"
    )
    factory.set_shared(True)
    server.get_mount_points().add_factory(args.path, factory)
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{args.port}", file=sys.stderr, flush=True)
        sys.exit(1)
    print(f"READY rtsp://127.0.0.1:{args.port}{args.path}", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
