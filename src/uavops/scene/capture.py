"""Capture photos of a scene from any MAVLink vehicle (built-in simulator, ArduPilot SITL, real).

A :class:`CaptureSession` owns its own link to the vehicle. It asks for GLOBAL_POSITION_INT,
ATTITUDE and SYSTEM_TIME, keeps a few seconds of them, and for each camera trigger renders one
photo with the pose interpolated at the trigger instant:

* ``trigger="feedback"`` (default): one photo per CAMERA_FEEDBACK, the autopilot's own record of
  a shutter release (ArduPilot AP_Camera, and uavops' simulator, send it for every shot). Its
  ``time_usec`` (UNIX µs, from the autopilot clock) is mapped to boot time through SYSTEM_TIME;
  when that is not possible the pose in the CAMERA_FEEDBACK itself is used.
* ``every_m=D``: a photo each time the vehicle has moved D metres (airborne only), for
  vehicles without a camera configured.
* ``trigger="command"``: a photo per DO_DIGICAM_CONTROL (shoot) / IMAGE_START_CAPTURE seen on
  the link (when a router forwards the ground station's commands to us).

Photos are ``IMG_0001.JPG`` … in ``photos_dir`` with DJI-style EXIF/XMP, and ``captures.csv``
lists them (rewritten atomically after each photo). Rendering happens on a worker thread so the
link is always read promptly; :meth:`CaptureSession.stop` drains the queue.
"""

from __future__ import annotations

import bisect
import csv
import io
import logging
import math
import queue
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ImageryError, LinkTimeout
from ..files import atomic_write, ensure_out_dir
from ..geo import haversine_m
from .camera import CameraPose, render_photo, write_photo
from .model import Scene, load_scene

__all__ = ["CaptureRecord", "CaptureSession", "CaptureStarter", "PoseHistory", "capture_photos"]

log = logging.getLogger(__name__)

MAV_COMP_ID_CAMERA = 100
#: Our system id: not 255 (SYSID_MYGCS), so the autopilot never mistakes our heartbeats for the ground
#: station's and arms its GCS failsafe on them.
CAPTURE_SYSID = 254
_MSG_IDS = {"GLOBAL_POSITION_INT": 33, "ATTITUDE": 30, "SYSTEM_TIME": 2}
CSV_FIELDS = ["file", "img_idx", "time_utc", "lat_deg", "lon_deg", "alt_amsl_m", "rel_alt_m", "roll_deg", "pitch_deg",
              "yaw_deg", "trigger", "pose_source"]


@dataclass(frozen=True)
class CaptureRecord:
    """One photo written: file name, the pose used, and where that pose came from."""

    file: str
    img_idx: int
    time_utc: str
    lat_deg: float
    lon_deg: float
    alt_amsl_m: float
    rel_alt_m: float
    roll_deg: float
    pitch_deg: float
    yaw_deg: float
    trigger: str        # feedback | distance | command
    pose_source: str    # interpolated | feedback | latest


@dataclass(frozen=True)
class _Sample:
    t_s: float
    values: tuple[float, ...]


class PoseHistory:
    """Recent position/attitude samples on the vehicle's boot clock, interpolated on demand."""

    def __init__(self, keep_s: float = 30.0) -> None:
        self.keep_s = keep_s
        self.pos: deque[_Sample] = deque()
        self.att: deque[_Sample] = deque()
        self.lock = threading.Lock()

    def add_position(self, t_s: float, lat: float, lon: float, alt_amsl: float, rel_alt: float,
                     vel_enu_mps: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> None:
        self._add(self.pos, _Sample(t_s, (lat, lon, alt_amsl, rel_alt, *vel_enu_mps)))

    def add_attitude(self, t_s: float, roll_deg: float, pitch_deg: float, yaw_deg: float) -> None:
        self._add(self.att, _Sample(t_s, (roll_deg, pitch_deg, yaw_deg)))

    def _add(self, buf: deque[_Sample], s: _Sample) -> None:
        with self.lock:
            if buf and s.t_s < buf[-1].t_s - 1.0:  # the vehicle rebooted: start again
                buf.clear()
            if buf and s.t_s <= buf[-1].t_s:
                return
            buf.append(s)
            while buf and buf[0].t_s < s.t_s - self.keep_s:
                buf.popleft()

    @staticmethod
    def _interp(buf: list[_Sample], t_s: float, wrap: tuple[int, ...] = ()) -> tuple[float, ...] | None:
        if not buf or t_s < buf[0].t_s - 0.25 or t_s > buf[-1].t_s + 0.25:
            return None
        times = [s.t_s for s in buf]
        i = bisect.bisect_left(times, t_s)
        if i == 0:
            return buf[0].values
        if i >= len(buf):
            return buf[-1].values
        a, b = buf[i - 1], buf[i]
        f = (t_s - a.t_s) / (b.t_s - a.t_s) if b.t_s > a.t_s else 0.0
        out = []
        for k, (va, vb) in enumerate(zip(a.values, b.values)):
            if k in wrap:
                d = (vb - va + 180.0) % 360.0 - 180.0
                out.append(va + f * d)
            else:
                out.append(va + f * (vb - va))
        return tuple(out)

    def covers(self, t_s: float) -> bool:
        """Whether position and attitude samples exist at or after ``t_s`` (so ``at`` interpolates)."""
        with self.lock:
            return bool(self.pos) and bool(self.att) and self.pos[-1].t_s >= t_s and self.att[-1].t_s >= t_s

    def at(self, t_s: float) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
        """((lat, lon, alt_amsl, rel_alt), (roll, pitch, yaw)) at boot time ``t_s``, or None if not covered."""
        with self.lock:
            pos, att = list(self.pos), list(self.att)
        p = self._interp(pos, t_s)
        a = self._interp(att, t_s, wrap=(2,))
        if p is None or a is None:
            return None
        return p, a

    def latest(self) -> tuple[float, tuple[float, ...], tuple[float, ...]] | None:
        with self.lock:
            if not self.pos or not self.att:
                return None
            return self.pos[-1].t_s, self.pos[-1].values, self.att[-1].values


@dataclass(frozen=True)
class _Job:
    trigger: str
    img_idx: int
    t_boot_s: float | None
    time_unix_s: float | None
    fallback: tuple[float, ...] | None  # lat, lon, alt_amsl, rel_alt, roll, pitch, yaw


class CaptureSession:
    """Listen to a vehicle and photograph ``scene`` at every camera trigger (see module docstring).

    Parameters
    ----------
    connect_url : pymavlink connection string (``tcp:127.0.0.1:5762``, ``udpin:0.0.0.0:14551`` …).
    scene : a :class:`Scene` or a scene folder.
    photos_dir : where IMG_NNNN.JPG and captures.csv go (numbering continues after existing photos).
    camera : a :class:`uavops.plan.camera.Camera`.
    every_m : shoot every D metres travelled instead of on CAMERA_FEEDBACK.
    height : ``"relative"`` (default) renders from the scene ground plus the height above home, so a
        scene works wherever the vehicle's home altitude is; ``"amsl"`` uses the vehicle's AMSL altitude.
    transport : an already open :class:`uavops.link.transport.MavlinkTransport` (tests).
    dem : terrain heights in the scene CRS (see :func:`uavops.scene.camera.load_dem`) for relief.

    Example
    -------
    >>> with CaptureSession("tcp:127.0.0.1:5762", "scene/", "photos/", get_camera("DJI Phantom 4 Pro")) as cap:
    ...     fly_the_survey()
    >>> cap.records  # one per photo
    """

    def __init__(self, connect_url: str, scene: Scene | str | Path, photos_dir: str | Path, camera: Any,
                 every_m: float | None = None, *, trigger: str | None = None, height: str = "relative",
                 distortion: bool = True, radiometry: bool = True, seed: int = 0, jpeg_quality: int = 92,
                 stream_rate_hz: int = 10, heartbeat_timeout_s: float = 30.0, transport: Any = None,
                 on_photo: Callable[[CaptureRecord], None] | None = None, which: str = "post",
                 dem: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
                 cover_wait_s: float = 1.0) -> None:
        self.connect_url = connect_url
        self.cover_wait_s = cover_wait_s  # longest wait for telemetry after a trigger before using the last sample
        self.scene = scene if isinstance(scene, Scene) else load_scene(scene)
        self.photos_dir = ensure_out_dir(photos_dir)
        self.camera = camera
        if every_m is not None and not (math.isfinite(every_m) and every_m > 0):
            raise ImageryError(f"--every-m must be a positive distance in metres, not {every_m}.")
        self.every_m = every_m
        self.trigger = trigger or ("distance" if every_m else "feedback")
        if self.trigger not in ("feedback", "distance", "command"):
            raise ImageryError(f"Unknown trigger '{self.trigger}'; use feedback, distance or command.")
        if height not in ("relative", "amsl"):
            raise ImageryError(f"height must be 'relative' or 'amsl', not '{height}'.")
        self.height = height
        self.distortion, self.radiometry, self.seed, self.jpeg_quality = distortion, radiometry, seed, jpeg_quality
        self.stream_rate_hz = stream_rate_hz
        self.heartbeat_timeout_s = heartbeat_timeout_s
        self.on_photo = on_photo
        self.which = which
        self.dem = dem
        self.history = PoseHistory()
        self.records: list[CaptureRecord] = []
        self.errors: list[str] = []
        self._transport = transport
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._unix_minus_boot_s: float | None = None
        self._seen_feedback: set[tuple[int, int]] = set()
        self._last_shot_latlon: tuple[float, float] | None = None
        self._next_no = self._first_free_number()
        self._enc: Any = None
        self._vehicle_sysid = 1
        self.feedback_count = 0

    # --- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> CaptureSession:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> CaptureSession:
        """Connect, wait for the vehicle's HEARTBEAT, request telemetry, start the threads.

        Raises
        ------
        LinkError
            The link cannot be opened; LinkTimeout if no HEARTBEAT arrives in time.
        """
        from ..link.transport import message_factory

        if self._transport is None:
            from ..link.pymavlink_ import PymavlinkTransport

            self._transport = PymavlinkTransport(self.connect_url, source_system=CAPTURE_SYSID,
                                                 source_component=MAV_COMP_ID_CAMERA)
        self._enc = message_factory(CAPTURE_SYSID, MAV_COMP_ID_CAMERA)
        deadline = time.monotonic() + self.heartbeat_timeout_s
        while True:
            msg = self._transport.recv(0.5)
            if msg is not None and msg.get_type() == "HEARTBEAT" and msg.get_srcComponent() == 1:
                self._vehicle_sysid = msg.get_srcSystem()
                break
            if time.monotonic() > deadline:
                self._transport.close()
                raise LinkTimeout(f"No HEARTBEAT from a vehicle on {self.connect_url} within "
                                  f"{self.heartbeat_timeout_s:.0f} s; is the vehicle or simulator running?")
        self._request_streams()
        for target, name in ((self._reader, "capture-link"), (self._writer, "capture-render")):
            th = threading.Thread(target=target, name=name, daemon=True)
            th.start()
            self._threads.append(th)
        return self

    def stop(self, drain_timeout_s: float = 120.0) -> list[CaptureRecord]:
        """Stop listening, finish the photos already triggered, close the link; returns the records."""
        self._stop.set()
        if self._threads:
            self._threads[0].join(timeout=5)
            self._jobs.put(None)
            self._threads[1].join(timeout=drain_timeout_s)
            self._threads = []
        if self._transport is not None:
            self._transport.close()
        return list(self.records)

    def wait_for_photos(self, count: int, timeout_s: float) -> bool:
        """Block until ``count`` photos are written (True) or ``timeout_s`` passes (False)."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if len(self.records) >= count:
                return True
            time.sleep(0.05)
        return len(self.records) >= count

    # --- link side ---------------------------------------------------------------------------
    def _send(self, msg: Any) -> None:
        try:
            self._transport.send(msg)
        except Exception as exc:  # noqa: BLE001 - a dead link is reported by the reader
            log.debug("send failed: %s", exc)

    def _request_streams(self) -> None:
        sysid = self._vehicle_sysid
        # ArduPilot stream groups: POSITION (GLOBAL_POSITION_INT), EXTRA1 (ATTITUDE), EXTRA3 (SYSTEM_TIME)
        for stream in (6, 10, 12):
            self._send(self._enc.request_data_stream_encode(sysid, 1, stream, self.stream_rate_hz, 1))
        interval_us = int(1e6 / max(1, self.stream_rate_hz))
        for msg_id in _MSG_IDS.values():
            us = 1_000_000 if msg_id == 2 else interval_us
            self._send(self._enc.command_long_encode(sysid, 1, 511, 0, msg_id, us, 0, 0, 0, 0, 0))

    def _reader(self) -> None:
        last_hb = 0.0
        last_req = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            if now - last_hb > 1.0:
                self._send(self._enc.heartbeat_encode(30, 8, 0, 0, 4))  # MAV_TYPE_CAMERA, AUTOPILOT_INVALID
                last_hb = now
            if now - last_req > 10.0 and self.history.latest() is None:
                self._request_streams()
                last_req = now
            try:
                msg = self._transport.recv(0.2)
            except Exception as exc:  # noqa: BLE001 - link lost: record and stop reading
                self.errors.append(str(exc))
                log.warning("capture link lost: %s", exc)
                break
            if msg is None:
                continue
            try:
                self._handle(msg)
            except Exception as exc:
                log.exception("capture: could not handle %s", msg.get_type())
                self.errors.append(f"{msg.get_type()}: {exc}")

    def _handle(self, msg: Any) -> None:
        kind = msg.get_type()
        if kind == "GLOBAL_POSITION_INT":
            t = msg.time_boot_ms / 1000.0
            lat, lon = msg.lat * 1e-7, msg.lon * 1e-7
            self.history.add_position(t, lat, lon, msg.alt / 1000.0, msg.relative_alt / 1000.0,
                                      (msg.vy / 100.0, msg.vx / 100.0, -msg.vz / 100.0))
            if self.trigger == "distance" and msg.relative_alt / 1000.0 > 2.0:
                if self._last_shot_latlon is None or haversine_m(
                        self._last_shot_latlon[0], self._last_shot_latlon[1], lat, lon) >= (self.every_m or 0):
                    self._last_shot_latlon = (lat, lon)
                    self._jobs.put(_Job("distance", 0, t, None, None))
        elif kind == "ATTITUDE":
            self.history.add_attitude(msg.time_boot_ms / 1000.0, math.degrees(msg.roll), math.degrees(msg.pitch),
                                      math.degrees(msg.yaw))
        elif kind == "SYSTEM_TIME":
            if msg.time_unix_usec > 0 and msg.time_boot_ms > 0:
                self._unix_minus_boot_s = msg.time_unix_usec / 1e6 - msg.time_boot_ms / 1000.0
        elif kind == "CAMERA_FEEDBACK" and self.trigger == "feedback":
            key = (int(msg.img_idx), int(msg.time_usec))
            if key in self._seen_feedback:
                return
            self._seen_feedback.add(key)
            self.feedback_count += 1
            t_unix = msg.time_usec / 1e6 if msg.time_usec > 1e15 else None
            t_boot = None
            if t_unix is not None and self._unix_minus_boot_s is not None:
                t_boot = t_unix - self._unix_minus_boot_s
            elif t_unix is None and msg.time_usec > 0:
                t_boot = msg.time_usec / 1e6  # some autopilots send boot time
            fb = (msg.lat * 1e-7, msg.lng * 1e-7, float(msg.alt_msl), float(msg.alt_rel), float(msg.roll),
                  float(msg.pitch), float(msg.yaw))
            self._jobs.put(_Job("feedback", int(msg.img_idx), t_boot, t_unix, fb))
        elif kind in ("COMMAND_LONG", "COMMAND_INT") and self.trigger == "command":
            shoot = (msg.command == 203 and (msg.param5 if kind == "COMMAND_LONG" else msg.x) == 1) or msg.command == 2000
            if shoot:
                latest = self.history.latest()
                self._jobs.put(_Job("command", 0, latest[0] if latest else None, None, None))

    # --- render side -------------------------------------------------------------------------
    def _writer(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                break
            try:
                self._shoot(job)
            except Exception as exc:
                log.exception("capture: photo failed")
                self.errors.append(str(exc))

    def _pose_for(self, job: _Job) -> tuple[tuple[float, ...], tuple[float, float, float] | None, str] | None:
        """((lat, lon, alt_amsl, rel_alt, roll, pitch, yaw), velocity ENU or None, source)."""
        if job.t_boot_s is not None:
            # CAMERA_FEEDBACK often arrives before the telemetry sample that follows the trigger;
            # wait for it rather than take the previous sample (up to one sample period late).
            deadline = time.monotonic() + self.cover_wait_s
            while not self.history.covers(job.t_boot_s) and time.monotonic() < deadline:
                time.sleep(0.005)
            got = self.history.at(job.t_boot_s)
            if got is not None:
                return got[0][:4] + got[1], (got[0][4], got[0][5], got[0][6]), "interpolated"
        if job.fallback is not None:
            return job.fallback, None, "feedback"
        latest = self.history.latest()
        if latest is not None:
            p = latest[1]
            return p[:4] + latest[2], (p[4], p[5], p[6]), "latest"
        return None

    def _shoot(self, job: _Job) -> None:
        found = self._pose_for(job)
        if found is None:
            self.errors.append(f"photo {job.img_idx}: no position/attitude from the vehicle yet; photo skipped")
            return
        (lat, lon, alt_amsl, rel_alt, roll, pitch, yaw), velocity, source = found
        if job.time_unix_s is not None:
            when = datetime.fromtimestamp(job.time_unix_s, tz=timezone.utc)
        elif job.t_boot_s is not None and self._unix_minus_boot_s is not None:
            when = datetime.fromtimestamp(job.t_boot_s + self._unix_minus_boot_s, tz=timezone.utc)
        else:
            when = datetime.now(timezone.utc)
        pose = CameraPose(lat, lon, alt_amsl, roll, pitch, yaw)
        render_alt = self.scene.ground_amsl_m + rel_alt if self.height == "relative" else alt_amsl
        render_pose = CameraPose(lat, lon, render_alt, roll, pitch, yaw)
        no = self._next_no
        self._next_no += 1
        name = f"IMG_{no:04d}.JPG"
        if render_alt <= self.scene.ground_amsl_m + 0.5:
            self.errors.append(f"{name}: the vehicle is on the ground ({rel_alt:.1f} m above home); photo is blank")
        try:
            img = render_photo(self.scene, render_pose, self.camera, distortion=self.distortion,
                               radiometry=self.radiometry, rng=np.random.default_rng([self.seed, no]),
                               which=self.which, velocity_enu_mps=velocity, dem=self.dem)
        except ImageryError as exc:
            self.errors.append(f"{name}: {exc}")
            img = np.zeros((self.camera.image_height_px, self.camera.image_width_px, 3), np.uint8)
        write_photo(self.photos_dir / name, img, pose, self.camera, when, rel_alt, quality=self.jpeg_quality,
                    image_no=no)
        rec = CaptureRecord(name, job.img_idx, when.isoformat(), lat, lon, alt_amsl, rel_alt, roll, pitch, yaw,
                            job.trigger, source)
        self.records.append(rec)
        self._write_csv()
        if self.on_photo is not None:
            self.on_photo(rec)

    def _write_csv(self) -> None:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
        writer.writeheader()
        for rec in self.records:
            row = asdict(rec)
            for k in ("lat_deg", "lon_deg"):
                row[k] = f"{row[k]:.8f}"
            for k in ("alt_amsl_m", "rel_alt_m", "roll_deg", "pitch_deg", "yaw_deg"):
                row[k] = f"{row[k]:.3f}"
            writer.writerow(row)
        with atomic_write(self.photos_dir / "captures.csv") as fh:
            fh.write(buf.getvalue())

    def _first_free_number(self) -> int:
        nums = [int(m.group(1)) for p in self.photos_dir.glob("IMG_*.JPG")
                if (m := re.fullmatch(r"IMG_(\d+)\.JPG", p.name))]
        return max(nums, default=0) + 1


def capture_photos(connect_url: str, scene_dir: str | Path, photos_dir: str | Path, camera_name: str = "DJI Phantom 4 Pro",
                   every_m: float | None = None) -> CaptureSession:
    """The small entry point for ``uavops sim --scene DIR --photos DIR``: a started session (call ``stop()``)."""
    from ..plan.camera import get_camera

    return CaptureSession(connect_url, scene_dir, photos_dir, get_camera(camera_name), every_m=every_m).start()


class CaptureStarter:
    """Starts a capture session as soon as the vehicle accepts its connection.

    ArduPilot SITL opens its second MAVLink port only once the first has a client, so the
    camera is retried in the background while the ground station connects. ``stop()``
    returns the photos taken (and raises if the camera never connected).
    """

    def __init__(self, factory: Callable[[], Any], timeout_s: float = 120.0) -> None:
        self._factory = factory
        self._timeout_s = timeout_s
        self.session: Any = None
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-camera-start", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from ..errors import LinkError

        deadline = time.monotonic() + self._timeout_s
        while not self._stop.is_set():
            session = self._factory()
            try:
                self.session = session.start()
                return
            except (LinkError, OSError) as exc:
                if time.monotonic() > deadline:
                    self.error = exc
                    return
                self._stop.wait(0.3)

    def stop(self) -> list[Any]:
        self._stop.set()
        self._thread.join(timeout=self._timeout_s)
        if self.session is None:
            if self.error is not None:
                raise ImageryError(f"The virtual camera could not connect to the vehicle ({self.error}).")
            return []
        return list(self.session.stop())
