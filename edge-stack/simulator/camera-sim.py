#!/usr/bin/python3
"""Simulated IP cameras served over real RTSP (gst-rtsp-server through python3-gi).

One process serves many cameras on one RTSP port. Each camera has two mounts,
/<name>/main and /<name>/sub (a smaller rendition of the same scene).

Usage:
    /usr/bin/python3 camera-sim.py '<json config>'
    /usr/bin/python3 camera-sim.py path/to/config.json
    /usr/bin/python3 camera-sim.py -     (config on the first line of stdin, which
                                          keeps passwords out of the process list)

Config:
    {"port": 0, "address": "127.0.0.1",
     "cameras": [{"name": "cam1", "codec": "H264", "width": 640, "height": 360,
                  "fps": 10, "bitrateKbps": 512, "scene": "pattern",
                  "auth": {"user": "admin", "password": "secret"}}]}

Control channel: JSON lines on stdin, one JSON reply per line on stdout. The first
stdout line is {"ready": true, "port": N}. Commands:
    {"id": 1, "cmd": "fault", "camera": "cam1", "kind": "stall", "seconds": 3}
        kind: disconnect | stall | slow | corrupt | recover
        seconds: optional; without it the fault lasts until "recover".
        slow takes an optional "rate" (fraction of the stream bitrate delivered,
        default 0.5); corrupt an optional "probability" (per byte).
    {"id": 2, "cmd": "status"}
    {"id": 3, "cmd": "stop"}
Replies: {"id": 1, "ok": true, ...} or {"id": 1, "ok": false, "error": "..."}.
End of stdin (the parent went away) stops the process too.
"""

import json
import math
import os
import re
import signal
import sys
import threading
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
gi.require_version("GstVideo", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer, GstVideo  # noqa: E402

VTEST_PATH = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"
VTEST_WIDTH, VTEST_HEIGHT = 768, 576

CODECS = ("H264", "H265", "MJPEG")
SCENES = ("pattern", "vtest", "covered", "frozen")
FAULTS = ("disconnect", "stall", "slow", "corrupt", "recover")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def log(msg):
    print(f"camera-sim: {msg}", file=sys.stderr, flush=True)


def even(n):
    return max(2, int(n) // 2 * 2)


class ConfigError(Exception):
    pass


# --------------------------------------------------------------------------
# The "pattern" scene: a flat background (cheap: videotestsrc reuses the frame)
# with a moving ball and a wall clock drawn as small overlay rectangles, since
# videotestsrc's own ball pattern costs half a core at 1080p30 and no text
# renderer (pango) is installed. The stock overlaycomposition element blends
# only the rectangles.
# --------------------------------------------------------------------------

FONT = {
    "0": ("01110", "10001", "10011", "10101", "11001", "10001", "01110"),
    "1": ("00100", "01100", "00100", "00100", "00100", "00100", "01110"),
    "2": ("01110", "10001", "00001", "00010", "00100", "01000", "11111"),
    "3": ("11110", "00001", "00001", "01110", "00001", "00001", "11110"),
    "4": ("00010", "00110", "01010", "10010", "11111", "00010", "00010"),
    "5": ("11111", "10000", "11110", "00001", "00001", "10001", "01110"),
    "6": ("00110", "01000", "10000", "11110", "10001", "10001", "01110"),
    "7": ("11111", "00001", "00010", "00100", "01000", "01000", "01000"),
    "8": ("01110", "10001", "10001", "01110", "10001", "10001", "01110"),
    "9": ("01110", "10001", "10001", "01111", "00001", "00010", "01100"),
    ":": ("00000", "01100", "01100", "00000", "01100", "01100", "00000"),
    ".": ("00000", "00000", "00000", "00000", "00000", "01100", "01100"),
    " ": ("00000",) * 7,
}
# Premultiplied BGRA pixels.
WHITE = b"\xff\xff\xff\xff"
SHADE = b"\x00\x00\x00\xa0"  # translucent black box behind the digits
CLEAR = b"\x00\x00\x00\x00"
BALL = b"\x40\xd0\xff\xff"  # amber


def overlay_rect(data, x, y, width, height):
    buf = Gst.Buffer.new_wrapped(data)
    GstVideo.buffer_add_video_meta(
        buf, GstVideo.VideoFrameFlags.NONE, GstVideo.VideoFormat.BGRA, width, height
    )
    return GstVideo.VideoOverlayRectangle.new_raw(
        buf, x, y, width, height, GstVideo.VideoOverlayFormatFlags.PREMULTIPLIED_ALPHA
    )


class ClockOverlay:
    """HH:MM:SS.mmm of the local wall clock, top-left, in cells of `scale` pixels.

    bench/ingest-clock.ts reads this drawing back from normalized frames to time
    frames glass to job: keep the font, the cell size and the layout in step with it.
    """

    def __init__(self, height):
        self.scale = max(2, height // 120)
        self.bottom = 10 * self.scale  # first row below the box

    def render(self, text):
        s = self.scale
        width, height = (len(text) * 6 + 1) * s, 9 * s
        rows = [SHADE * width * s]
        for r in range(7):
            cells = [SHADE * s]
            for ch in text:
                glyph = FONT.get(ch, FONT[" "])[r]
                cells.extend((WHITE if bit == "1" else SHADE) * s for bit in glyph)
                cells.append(SHADE * s)
            rows.append(b"".join(cells) * s)
        rows.append(SHADE * width * s)
        return overlay_rect(b"".join(rows), s, s, width, height)

    def now(self):
        t = time.time()
        return self.render(time.strftime("%H:%M:%S", time.localtime(t)) + f".{int(t * 1000) % 1000:03d}")


class PatternOverlay:
    """A ball moving on a Lissajous path below the clock, and the clock."""

    def __init__(self, width, height):
        self.width, self.height = width, height
        self.clock = ClockOverlay(height)
        # Blending costs about 30 ns a pixel, so the ball stays small.
        d = self.diameter = even(height // 6)
        r = d / 2
        rows = []
        for y in range(d):
            half = max(0.0, r * r - (y + 0.5 - r) ** 2) ** 0.5
            left = int(round(r - half))
            rows.append(CLEAR * left + BALL * (d - 2 * left) + CLEAR * left)
        self.ball = b"".join(rows)

    def on_draw(self, _element, sample):
        # Ball position follows the stream time, so every reader sees the same motion.
        t = sample.get_buffer().pts / Gst.SECOND
        d, top = self.diameter, self.clock.bottom
        x = int((self.width - d) * (0.5 + 0.5 * math.sin(t * 2 * math.pi / 7)))
        y = top + int((self.height - d - top) * (0.5 + 0.5 * math.sin(t * 2 * math.pi / 5)))
        comp = GstVideo.VideoOverlayComposition.new(overlay_rect(self.ball, x, y, d, d))
        comp.add_rectangle(self.clock.now())
        return comp


# --------------------------------------------------------------------------
# Cameras
# --------------------------------------------------------------------------


class Rendition:
    def __init__(self, width, height, fps, bitrate):
        self.width, self.height, self.fps, self.bitrate = width, height, fps, bitrate


class Mount:
    """Per-media state of one prepared mount (main or sub) of a camera."""

    def __init__(self, rendition, damage):
        self.rendition = rendition
        self.damage = damage  # the breakmydata element
        self.avg_size = rendition.bitrate * 1000 / 8 / rendition.fps
        self.waiting_key = False
        self.probability = 0.0

    def set_damage(self, corrupt):
        if corrupt is None:
            p = 0.0
        else:
            per_frame, fixed = corrupt
            p = fixed if fixed is not None else min(0.05, per_frame / max(1.0, self.avg_size))
        # Frame sizes drift; only touch the element when the change matters.
        if p == 0.0 and self.probability == 0.0:
            return
        if p == 0.0 or abs(p - self.probability) > 0.2 * self.probability:
            self.probability = p
            self.damage.set_property("probability", p)


class Camera:
    """One simulated camera: a scene pipeline plus fault state shared by its mounts."""

    def __init__(self, spec):
        self.name = spec["name"]
        self.codec = spec["codec"]
        self.scene = spec["scene"]
        self.auth = spec.get("auth")
        self.main = Rendition(spec["width"], spec["height"], spec["fps"], spec["bitrateKbps"])
        sub_w = even(min(640, spec["width"] // 2))
        sub_h = sub_w * spec["height"] / spec["width"]
        # RTP/JPEG (RFC 2435) sends sizes in blocks of 8: readers would see the rounding.
        sub_h = int(sub_h / 8 + 0.5) * 8 if self.codec == "MJPEG" else even(sub_h)
        self.sub = Rendition(sub_w, sub_h, spec["fps"], max(64, spec["bitrateKbps"] // 4))
        self.channel = f"camsim-{self.name}"

        # The scene runs only while some mount is prepared, so idle cameras cost nothing.
        # media-configure may come on an RTSP client thread; releases run on the main loop.
        self.users = 0
        self.users_lock = threading.Lock()
        self.source = None
        self.overlay = None

        # Fault state, read from streaming threads (plain attribute reads under the GIL).
        self.refusing = False
        self.stalled = False
        self.slow_rate = None
        self.corrupt = None  # None, or (damaged bytes per frame, fixed per-byte probability)
        self.timers = {}
        self.mounts = []  # Mount of every prepared media of this camera
        self.clients = set()  # RTSP clients that asked for one of its mounts

    # ---- scene ------------------------------------------------------------

    def scene_launch(self):
        w, h, fps = self.main.width, self.main.height, self.main.fps
        raw = f"video/x-raw,format=I420,width={w},height={h},pixel-aspect-ratio=1/1"
        sink = f"intervideosink channel={self.channel}"
        if self.scene == "pattern":
            return (
                f"videotestsrc is-live=true pattern=solid-color foreground-color=0xff305070 "
                f"! {raw},framerate={fps}/1 ! overlaycomposition name=overlay ! {sink} sync=false"
            )
        if self.scene == "covered":
            # Low-resolution noise scaled up and squashed to a very dark, nearly
            # uniform picture: what a sensor sees through a hand or tape. At most
            # 5 new pictures a second keeps the upscale cheap; the mounts repeat
            # them at the camera rate.
            return (
                f"videotestsrc is-live=true pattern=snow "
                f"! video/x-raw,width=16,height=9,framerate={min(fps, 5)}/1 "
                f"! videoconvert ! videobalance contrast=0.06 saturation=0 "
                f"! videoscale method=bilinear ! videoconvert ! {raw} ! {sink} sync=false"
            )
        decode = (
            f"filesrc location={VTEST_PATH} ! avidemux ! decodebin ! videoconvert "
            f"! {self.crop()} ! videoscale add-borders=false ! {raw}"
        )
        if self.scene == "vtest":
            return f"{decode} ! {sink} sync=true"
        # frozen: the first frame of the footage, repeated forever.
        return f"{decode} ! imagefreeze ! {raw},framerate={fps}/1 ! {sink} sync=true"

    def crop(self):
        """videocrop that trims vtest.avi (4:3) to the camera's aspect ratio."""
        w, h = self.main.width, self.main.height
        top = bottom = left = right = 0
        if w * VTEST_HEIGHT > h * VTEST_WIDTH:
            keep = round(VTEST_WIDTH * h / w)
            top = (VTEST_HEIGHT - keep) // 2
            bottom = VTEST_HEIGHT - keep - top
        else:
            keep = round(VTEST_HEIGHT * w / h)
            left = (VTEST_WIDTH - keep) // 2
            right = VTEST_WIDTH - keep - left
        return f"videocrop top={top} bottom={bottom} left={left} right={right}"

    def acquire(self):
        with self.users_lock:
            self.users += 1
            if self.users == 1:
                self.start_scene()

    def release(self):
        with self.users_lock:
            self.users = max(0, self.users - 1)
            if self.users == 0 and self.source is not None:
                self.source.set_state(Gst.State.NULL)
                self.source = None

    def start_scene(self):
        pipeline = Gst.parse_launch(self.scene_launch())
        pipeline.set_name(f"scene-{self.name}")
        bus = pipeline.get_bus()
        bus.add_signal_watch()
        bus.connect("message", self.on_scene_message)
        overlay = pipeline.get_by_name("overlay")
        if overlay is not None:
            self.overlay = PatternOverlay(self.main.width, self.main.height)
            overlay.connect("draw", self.overlay.on_draw)
        if self.scene == "vtest":
            # A segment seek makes the demuxer post SEGMENT_DONE instead of EOS,
            # so the footage can loop without a gap in running time.
            pipeline.set_state(Gst.State.PAUSED)
            pipeline.get_state(5 * Gst.SECOND)
            pipeline.seek_simple(Gst.Format.TIME, Gst.SeekFlags.FLUSH | Gst.SeekFlags.SEGMENT, 0)
        pipeline.set_state(Gst.State.PLAYING)
        # Wait for the first frame so a new reader does not start on black.
        pipeline.get_state(5 * Gst.SECOND)
        self.source = pipeline

    def on_scene_message(self, _bus, msg):
        if msg.type == Gst.MessageType.SEGMENT_DONE and self.source is not None:
            self.source.seek(
                1.0, Gst.Format.TIME, Gst.SeekFlags.SEGMENT,
                Gst.SeekType.SET, 0, Gst.SeekType.NONE, -1,
            )
        elif msg.type == Gst.MessageType.ERROR:
            err, dbg = msg.parse_error()
            log(f"{self.name}: scene error: {err.message} ({dbg})")
        elif msg.type == Gst.MessageType.EOS and self.source is not None:
            # Only reached if the segment seek was refused: restart from the top.
            self.source.seek_simple(Gst.Format.TIME, Gst.SeekFlags.FLUSH, 0)

    # ---- mounts -------------------------------------------------------------

    def media_launch(self, r):
        raw = f"video/x-raw,format=I420,width={r.width},height={r.height},pixel-aspect-ratio=1/1"
        # intervideosrc is the live clock of the mount: it emits the scene's latest
        # frame at the camera fps, whatever rate the scene produces.
        src = (
            f"intervideosrc channel={self.channel} timeout={3 * Gst.SECOND} "
            f"! video/x-raw,framerate={r.fps}/1 ! videoconvert ! videoscale add-borders=false ! {raw}"
        )
        # Parameter sets go in-band before every keyframe so a reader can join at
        # any second. The parser inserts them per access unit; the payloader
        # would insert them per keyframe NAL, which splits multi-slice frames.
        # One encoder thread each: many small streams share two cores better.
        if self.codec == "H264":
            enc = (
                f"x264enc speed-preset=ultrafast tune=zerolatency bitrate={r.bitrate} "
                f"key-int-max={r.fps} threads=1 ! h264parse config-interval=-1 "
                f"! video/x-h264,stream-format=byte-stream,alignment=au"
            )
            pay = "rtph264pay name=pay0 pt=96 config-interval=0"
        elif self.codec == "H265":
            enc = (
                f"x265enc speed-preset=ultrafast tune=zerolatency bitrate={r.bitrate} "
                f'key-int-max={r.fps} option-string="pools=1:frame-threads=1" '
                f"! h265parse config-interval=-1 ! video/x-h265,stream-format=byte-stream,alignment=au"
            )
            pay = "rtph265pay name=pay0 pt=96 config-interval=0"
        else:
            # JPEG has no bitrate knob: map bits per pixel onto a quality roughly.
            bpp = r.bitrate * 1000 / (r.width * r.height * r.fps)
            quality = int(min(95, max(20, 30 + 45 * bpp)))
            enc = f"jpegenc quality={quality}"
            pay = "rtpjpegpay name=pay0 pt=26"
        # netq decouples the encoder from delivery so "slow" can throttle delivery
        # while the encoder keeps real time; when it overflows it drops the oldest
        # frames, as a congested link would. breakmydata damages bytes for "corrupt".
        return (
            f"( {src} ! {enc} ! queue name=netq leaky=downstream max-size-buffers={max(2, r.fps)} "
            f"max-size-bytes=0 max-size-time=0 ! breakmydata name=damage ! {pay} )"
        )

    def factory(self, rendition, all_roles, allowed):
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(self.media_launch(rendition))
        factory.set_shared(True)
        # gst-rtsp-auth answers 404 to a role without "access" but 401 to one
        # without "construct": every role may see the mount, so that missing or
        # wrong credentials get the 401 a real camera sends.
        perms = GstRtspServer.RTSPPermissions()
        for role in all_roles:
            perms.add_permission_for_role(role, "media.factory.access", True)
            perms.add_permission_for_role(role, "media.factory.construct", role in allowed)
        factory.set_permissions(perms)
        factory.connect("media-configure", self.on_media_configure, rendition)
        return factory

    def on_media_configure(self, _factory, media, rendition):
        self.acquire()
        element = media.get_element()
        mount = Mount(rendition, element.get_by_name("damage"))
        self.mounts.append(mount)
        element.get_by_name("netq").get_static_pad("src").add_probe(
            Gst.PadProbeType.BUFFER, self.on_frame, mount
        )

        def unprepared(_media):
            if mount in self.mounts:
                self.mounts.remove(mount)
                GLib.idle_add(lambda: self.release() and False)

        media.connect("unprepared", unprepared)

    def on_frame(self, _pad, info, mount):
        """Runs once per encoded frame, on the delivery thread of a mount."""
        buf = info.get_buffer()
        size = buf.get_size()
        mount.avg_size += (size - mount.avg_size) / 8
        if self.stalled:
            mount.waiting_key = True
            return Gst.PadProbeReturn.DROP
        if mount.waiting_key:
            # After a stall resume on a keyframe, as a camera restarting its GOP would.
            if buf.has_flags(Gst.BufferFlags.DELTA_UNIT):
                return Gst.PadProbeReturn.DROP
            mount.waiting_key = False
        mount.set_damage(self.corrupt)
        rate = self.slow_rate
        if rate:
            # Deliver at rate x the stream's own byte rate (measured, since simple
            # scenes stay far below the nominal bitrate): the queue upstream fills
            # up and sheds frames, like a congested uplink.
            time.sleep(size / (rate * mount.avg_size * mount.rendition.fps))
        return Gst.PadProbeReturn.OK

    # ---- faults -------------------------------------------------------------

    def set_timer(self, kind, seconds, fn):
        old = self.timers.pop(kind, None)
        if old:
            GLib.source_remove(old)
        if seconds:

            def fire():
                self.timers.pop(kind, None)
                fn()
                return False

            self.timers[kind] = GLib.timeout_add(int(seconds * 1000), fire)

    def set_corrupt(self, corrupt):
        self.corrupt = corrupt
        for mount in list(self.mounts):
            mount.set_damage(corrupt)

    def fault(self, kind, seconds=None, rate=None, probability=None):
        if kind == "recover":
            for k in list(self.timers):
                self.set_timer(k, None, None)
            self.refusing = False
            self.stalled = False
            self.slow_rate = None
            self.set_corrupt(None)
            return {}
        if kind == "disconnect":
            self.refusing = True
            closed = self.drop_clients()
            self.set_timer(kind, seconds, lambda: setattr(self, "refusing", False))
            return {"closed": closed}
        if kind == "stall":
            self.stalled = True
            self.set_timer(kind, seconds, lambda: setattr(self, "stalled", False))
        elif kind == "slow":
            self.slow_rate = float(rate) if rate else 0.5
            self.set_timer(kind, seconds, lambda: setattr(self, "slow_rate", None))
        elif kind == "corrupt":
            # By default about one damaged byte every other frame, whatever the
            # frame size; "probability" pins the per-byte probability instead.
            self.set_corrupt((0.5, float(probability) if probability else None))
            self.set_timer(kind, seconds, lambda: self.set_corrupt(None))
        return {}

    def drop_clients(self):
        """Closes the RTSP connections that use this camera; their sessions go with them."""
        clients = list(self.clients)
        self.clients.clear()
        for client in clients:
            client.close()
        return len(clients)


# --------------------------------------------------------------------------
# Server and control channel
# --------------------------------------------------------------------------


class Simulator:
    def __init__(self, config):
        self.cameras = {}
        for spec in config["cameras"]:
            self.cameras[spec["name"]] = Camera(spec)
        self.loop = GLib.MainLoop()
        self.server = GstRtspServer.RTSPServer()
        self.server.set_address(config.get("address", "127.0.0.1"))
        self.server.set_service(str(config.get("port", 0)))
        self.setup_auth()
        mounts = self.server.get_mount_points()
        for cam in self.cameras.values():
            allowed = [cam.role] if cam.auth else self.all_roles
            mounts.add_factory(f"/{cam.name}/main", cam.factory(cam.main, self.all_roles, allowed))
            mounts.add_factory(f"/{cam.name}/sub", cam.factory(cam.sub, self.all_roles, allowed))
        self.server.connect("client-connected", self.on_client_connected)
        # A UDP reader that vanishes without TEARDOWN keeps its session (and so the
        # encoders) alive; nothing expires timed-out sessions unless asked to.
        GLib.timeout_add_seconds(2, self.cleanup_sessions)

    def setup_auth(self):
        """Maps each distinct user/password pair to a role; cameras without auth
        accept every role, so a reader that sends credentials anyway still gets in."""
        auth = GstRtspServer.RTSPAuth()
        anonymous = GstRtspServer.RTSPToken()
        anonymous.set_string("media.factory.role", "anonymous")
        auth.set_default_token(anonymous)
        roles = {}
        for cam in self.cameras.values():
            if not cam.auth:
                continue
            key = (cam.auth["user"], cam.auth["password"])
            if key not in roles:
                role = f"user{len(roles)}"
                roles[key] = role
                token = GstRtspServer.RTSPToken()
                token.set_string("media.factory.role", role)
                auth.add_basic(GstRtspServer.RTSPAuth.make_basic(*key), token)
            cam.role = roles[key]
        self.all_roles = ["anonymous", *roles.values()]
        self.server.set_auth(auth)

    def cleanup_sessions(self):
        self.server.get_session_pool().cleanup()
        return True

    def camera_of(self, ctx):
        uri = ctx.uri
        if uri is None or not uri.abspath:
            return None
        parts = uri.abspath.strip("/").split("/")
        return self.cameras.get(parts[0]) if parts else None

    def on_client_connected(self, _server, client):
        # By default a TCP reader loses RTP packets whenever 100 messages are
        # queued, which a single 1080p keyframe exceeds; with drop-backlog off the
        # server applies back-pressure instead of damaging the stream.
        client.set_property("drop-backlog", False)

        def gate(_client, ctx):
            cam = self.camera_of(ctx)
            if cam is None:
                return GstRtsp.RTSPStatusCode.OK
            if cam.refusing:
                return GstRtsp.RTSPStatusCode.SERVICE_UNAVAILABLE
            cam.clients.add(client)
            return GstRtsp.RTSPStatusCode.OK

        # Not pre-options-request: refusing there double-frees the response in
        # gst-rtsp-server 1.22 and aborts the process. Every reader sends
        # DESCRIBE or SETUP before it can get media, so those two suffice.
        for sig in ("pre-describe-request", "pre-setup-request"):
            client.connect(sig, gate)

        def closed(c):
            for cam in self.cameras.values():
                cam.clients.discard(c)

        client.connect("closed", closed)

    def start(self):
        if self.server.attach(None) == 0:
            raise RuntimeError("could not bind the RTSP port")
        return self.server.get_bound_port()

    # ---- control channel ------------------------------------------------------

    def reply(self, obj):
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    def handle_line(self, line):
        line = line.strip()
        if not line:
            return False
        req_id = None
        try:
            req = json.loads(line)
            if not isinstance(req, dict):
                raise ValueError("a command is a JSON object")
            req_id = req.get("id")
            result = self.handle(req)
            self.reply({"id": req_id, "ok": True, **result})
        except Exception as exc:  # a bad command must never kill the cameras
            self.reply({"id": req_id, "ok": False, "error": str(exc)})
        return False

    def handle(self, req):
        cmd = req.get("cmd")
        if cmd == "stop":
            GLib.idle_add(self.shutdown)
            return {}
        if cmd == "status":
            return {
                "cameras": {
                    name: {
                        "readers": len(cam.clients),
                        "mounts": len(cam.mounts),
                        "scene": cam.source is not None,
                        "refusing": cam.refusing,
                        "stalled": cam.stalled,
                        "slow": cam.slow_rate,
                        "corrupt": cam.corrupt is not None,
                    }
                    for name, cam in self.cameras.items()
                }
            }
        if cmd == "fault" or cmd in FAULTS:
            kind = req.get("kind", cmd)
            if kind not in FAULTS:
                raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(FAULTS)}")
            cam = self.cameras.get(req.get("camera"))
            if cam is None:
                raise ValueError(f"unknown camera {req.get('camera')!r}")
            seconds = req.get("seconds")
            if seconds is not None and (not isinstance(seconds, (int, float)) or seconds <= 0):
                raise ValueError("seconds must be a positive number")
            return cam.fault(kind, seconds, req.get("rate"), req.get("probability"))
        raise ValueError(f"unknown command {cmd!r}")

    def read_stdin(self):
        for line in sys.stdin:
            GLib.idle_add(self.handle_line, line)
        GLib.idle_add(self.shutdown)

    def shutdown(self):
        for cam in self.cameras.values():
            cam.drop_clients()
            with cam.users_lock:
                if cam.source is not None:
                    cam.source.set_state(Gst.State.NULL)
                    cam.source = None
        self.loop.quit()
        return False

    def run(self):
        port = self.start()
        threading.Thread(target=self.read_stdin, daemon=True).start()
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, self.shutdown)
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, self.shutdown)
        self.reply({"ready": True, "port": port})
        self.loop.run()


def validate(config):
    if not isinstance(config, dict) or not isinstance(config.get("cameras"), list):
        raise ConfigError('config must be an object with a "cameras" array')
    port = config.get("port", 0)
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigError("port must be an integer 0..65535")
    seen = set()
    for i, spec in enumerate(config["cameras"]):
        where = f"cameras[{i}]"
        if not isinstance(spec, dict):
            raise ConfigError(f"{where}: must be an object")
        name = spec.get("name")
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise ConfigError(f"{where}.name: letters, digits, '_', '-', '.' (max 64)")
        if name in seen:
            raise ConfigError(f"{where}.name: duplicate camera {name!r}")
        seen.add(name)
        if spec.get("codec") not in CODECS:
            raise ConfigError(f"{where}.codec: one of {', '.join(CODECS)}")
        if spec.get("scene") not in SCENES:
            raise ConfigError(f"{where}.scene: one of {', '.join(SCENES)}")
        for key, lo, hi in (("width", 32, 4096), ("height", 32, 2160), ("fps", 1, 60), ("bitrateKbps", 16, 100000)):
            v = spec.get(key)
            if not isinstance(v, int) or not lo <= v <= hi:
                raise ConfigError(f"{where}.{key}: integer {lo}..{hi}")
        if spec["width"] % 2 or spec["height"] % 2:
            raise ConfigError(f"{where}: width and height must be even")
        if spec["codec"] == "MJPEG" and (
            spec["width"] % 8 or spec["height"] % 8 or max(spec["width"], spec["height"]) > 2040
        ):
            raise ConfigError(
                f"{where}: MJPEG over RTP (RFC 2435) needs width and height in multiples of 8, at most 2040"
            )
        if spec["scene"] in ("vtest", "frozen") and not os.path.exists(VTEST_PATH):
            raise ConfigError(f"{where}.scene: {VTEST_PATH} is missing (Debian package opencv-doc)")
        auth = spec.get("auth")
        if auth is not None and not (
            isinstance(auth, dict) and isinstance(auth.get("user"), str) and auth["user"]
            and ":" not in auth["user"] and isinstance(auth.get("password"), str)
        ):
            raise ConfigError(f"{where}.auth: {{user, password}} strings, user without ':'")


def load_config(arg):
    if arg == "-":
        text = sys.stdin.readline()
    elif arg.lstrip().startswith("{"):
        text = arg
    else:
        with open(arg, encoding="utf-8") as f:
            text = f.read()
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"config is not valid JSON: {exc}") from exc
    validate(config)
    return config


def main(argv):
    if len(argv) != 2 or argv[1] in ("-h", "--help"):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        config = load_config(argv[1])
    except (ConfigError, OSError) as exc:
        log(str(exc))
        return 2
    Gst.init(None)
    try:
        Simulator(config).run()
    except RuntimeError as exc:
        log(str(exc))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
