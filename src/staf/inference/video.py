"""Video in and out: frames of a video file or an image folder, and H.264 mp4 writing.

Reading uses PyAV (FFmpeg) and honours the frame rate, the time stamps and the display rotation
(phones store portrait video as landscape frames plus a rotation in the container; FFmpeg's
``av_display_rotation_get`` gives the counter-clockwise angle that shows the frame upright).
OpenCV reads the file when PyAV cannot open it. A folder of images is read in natural name order
(``2.jpg`` before ``10.jpg``) at ``fps`` frames per second.

Writing encodes H.264 (libx264, yuv420p, ``+faststart``) through PyAV: the result plays in web
browsers, which OpenCV's ``mp4v`` files do not. Frames are written to ``NAME.partial.mp4`` and
renamed when the video is complete, so an interrupted run never leaves a truncated video under
the real name.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
from pathlib import Path
from typing import Iterator

import numpy as np

from staf.logs import native_output_to_log
from staf.errors import InvalidInputError, MalformedFileError, MissingAssetError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")


@dataclasses.dataclass
class VideoInfo:
    """What a reader knows before decoding.

    Attributes:
        width, height: frame size as shown (after the display rotation), pixels.
        fps: frames per second.
        num_frames: frames in the file (an estimate from the container for some files).
        rotation: counter-clockwise degrees applied to each decoded frame (0, 90, 180, 270).
        mirrored: whether the display matrix also mirrors the frame (left-right, after the rotation).
        reader: ``pyav``, ``opencv`` or ``images``.
    """

    path: Path
    width: int
    height: int
    fps: float
    num_frames: int
    rotation: int = 0
    reader: str = "pyav"
    codec: str = ""
    mirrored: bool = False


@dataclasses.dataclass
class Frame:
    """One decoded frame: its index in the source (0-based), time in seconds and (H, W, 3) RGB."""

    index: int
    time: float
    image: np.ndarray


def natural_key(name: str) -> list:
    """Sort key that orders ``frame2.jpg`` before ``frame10.jpg``."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


#: frame rates a container may declare (slow-motion phones record 960 fps); others are not believed
FRAME_RATE_RANGE = (0.1, 1000.0)
#: the frame rate used when a container's declared rate is outside FRAME_RATE_RANGE
FALLBACK_FRAME_RATE = 30.0


def upright_rotation(raw, path) -> int:
    """A display matrix's rotation (degrees, any float) → 0, 90, 180 or 270: the nearest multiple
    of 90° with a warning when it is not one (within 1°), 0 with a warning when it is not a number
    (an all-zero matrix)."""
    try:
        degrees = float(raw or 0.0)
    except (TypeError, ValueError, OverflowError):
        degrees = math.nan
    if not math.isfinite(degrees):
        logging.getLogger(__name__).warning(f"{path}: the video's display matrix gives no rotation; ignored (frames "
                                            "used as stored)")
        return 0
    turn = math.fmod(degrees, 360.0)                # exact: a huge angle keeps its place on the circle
    nearest = int(round(turn / 90.0)) * 90
    if abs(turn - nearest) > 1.0:
        logging.getLogger(__name__).warning(f"{path}: the video asks for a rotation of {degrees:g}°, not a multiple "
                                            f"of 90°; frames are turned by the nearest, {nearest % 360}°")
    return nearest % 360


def plausible_frame_rate(fps: float, path) -> float:
    """The declared frame rate, or :data:`FALLBACK_FRAME_RATE` with a warning outside :data:`FRAME_RATE_RANGE`."""
    low, high = FRAME_RATE_RANGE
    if low <= fps <= high:
        return fps
    logging.getLogger(__name__).warning(f"{path}: the container declares {fps:g} frames/s, outside {low:g}–{high:g}; "
                                        f"using {FALLBACK_FRAME_RATE:g} frames/s (times and the overlay's rate follow it)")
    return FALLBACK_FRAME_RATE


def display_orientation(frame, path) -> tuple[int, bool]:
    """A decoded PyAV frame's display matrix → (counter-clockwise quarter turn, mirrored).

    The matrix (FFmpeg's ``AV_FRAME_DATA_DISPLAYMATRIX``: nine int32, the 2 × 2 part ``a b / c d``
    in 16.16 fixed point) maps stored to shown pixels. A negative determinant mirrors: FFmpeg's
    horizontal flip negates ``a`` and ``c`` after the rotation, so they are negated back before the
    angle ``-atan2(b, a)`` is read (the value PyAV's ``frame.rotation`` gives for an unmirrored
    matrix; for a mirrored one PyAV reads a left-right flip as a half turn). No matrix: (0, False)."""
    matrix = next((bytes(data) for data in getattr(frame, "side_data", ()) if "DISPLAYMATRIX" in str(data.type)), None)
    if matrix is None or len(matrix) != 36:
        return upright_rotation(getattr(frame, "rotation", 0), path), False
    a, b, _, c, d = (float(value) for value in np.frombuffer(matrix, "<i4")[:5])
    mirrored = a * d - b * c < 0
    if mirrored:
        a, c = -a, -c
    degrees = -math.degrees(math.atan2(b, a)) if (a or b) else math.nan
    return upright_rotation(degrees, path), mirrored


def rotate_upright(image: np.ndarray, rotation: int, mirrored: bool = False) -> np.ndarray:
    """Rotate an (H, W, 3) frame counter-clockwise by ``rotation`` degrees (a multiple of 90), then
    mirror it left-right when ``mirrored``: the frame as a player shows it."""
    turns = int(round(rotation / 90.0)) % 4
    image = np.rot90(image, k=turns) if turns else image
    image = image[:, ::-1] if mirrored else image
    return np.ascontiguousarray(image) if turns or mirrored else image


class VideoSource:
    """Frames of a video file or image folder between ``start`` and ``end`` seconds.

    Args:
        path: a video file or a folder of images.
        start, end: seconds (``end`` None: to the end).
        fps: frame rate of an image folder (ignored for videos, which carry their own).
    """

    def __init__(self, path: str | Path, start: float = 0.0, end: float | None = None, fps: float = 30.0) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise MissingAssetError(f"{self.path} does not exist: give a video file (mp4, avi, mov, webm) or a folder of images")
        _check_range(start, end, fps)
        self.start, self.end = float(start), end
        if self.path.is_dir():
            self.images = sorted((p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES),
                                 key=lambda p: natural_key(p.name))
            if not self.images:
                raise InvalidInputError(f"{self.path} holds no images ({', '.join(IMAGE_SUFFIXES)}); give a video or a folder of frames")
            self.info = self._image_info(fps)
        else:
            self.images = None
            self.info = self._video_info()

    # ------------------------------------------------------------------ probing

    def _image_info(self, fps: float) -> VideoInfo:
        from staf.data.crops import read_image

        first = read_image(self.images[0])
        return VideoInfo(self.path, first.shape[1], first.shape[0], float(fps), len(self.images), 0, "images")

    def _video_info(self) -> VideoInfo:
        if self.path.stat().st_size == 0:
            raise MalformedFileError(f"{self.path} is empty (0 bytes): not a video")
        try:
            return self._pyav_info()
        except (MalformedFileError, InvalidInputError):
            raise
        except Exception as pyav_error:  # noqa: BLE001 — fall back to OpenCV, then report both
            try:
                return self._opencv_info()
            except MalformedFileError as cv_error:
                raise MalformedFileError(f"{self.path}: not a video PyAV or OpenCV can read ({pyav_error}; {cv_error}); "
                                         "convert it to H.264 mp4, e.g. with ffmpeg -i IN -c:v libx264 OUT.mp4") from None

    def _pyav_info(self) -> VideoInfo:
        import av

        with av.open(str(self.path)) as container:
            if not container.streams.video:
                raise MalformedFileError(f"{self.path} has no video stream (audio only or not a video)")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            fps = float(rate) if rate else 0.0
            if not fps or not math.isfinite(fps):
                raise MalformedFileError(f"{self.path}: the video has no frame rate")
            fps = plausible_frame_rate(fps, self.path)
            frames = int(stream.frames or 0)
            if frames == 0 and stream.duration and stream.time_base and fps:
                frames = int(round(float(stream.duration * stream.time_base) * fps))
            first = None
            for first in container.decode(stream):
                break
            if first is None:
                raise MalformedFileError(f"{self.path}: the video stream holds no decodable frame")
            rotation, mirrored = display_orientation(first, self.path)
            width, height = (first.height, first.width) if rotation in (90, 270) else (first.width, first.height)
            return VideoInfo(self.path, width, height, fps, frames, rotation, "pyav", stream.codec_context.name,
                             mirrored)

    def _opencv_info(self) -> VideoInfo:
        import cv2

        with native_output_to_log("OpenCV"):           # FFmpeg's own lines about a damaged file
            capture = cv2.VideoCapture(str(self.path))
        try:
            with native_output_to_log("OpenCV"):
                ok, image = capture.read()
            if not ok:
                raise MalformedFileError("OpenCV decodes no frame")
            fps = plausible_frame_rate(float(capture.get(cv2.CAP_PROP_FPS)) or FALLBACK_FRAME_RATE, self.path)
            frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
            return VideoInfo(self.path, image.shape[1], image.shape[0], fps, frames, 0, "opencv")
        finally:
            capture.release()

    # ------------------------------------------------------------------ reading

    def __iter__(self) -> Iterator[Frame]:
        reader = {"images": self._read_images, "pyav": self._read_pyav, "opencv": self._read_opencv}[self.info.reader]
        for frame in reader():
            if frame.time < self.start - 1e-6:
                continue
            if self.end is not None and frame.time >= self.end - 1e-6:
                return
            yield frame

    def expected_frames(self) -> int:
        """Frames between start and end (for progress bars; the container's count may be off)."""
        total = self.info.num_frames
        first = int(math.ceil(self.start * self.info.fps - 1e-6))
        last = total if self.end is None else min(total, int(math.ceil(self.end * self.info.fps - 1e-6)))
        return max(0, last - first)

    def _read_images(self) -> Iterator[Frame]:
        from staf.data.crops import read_image

        for index, path in enumerate(self.images):
            image = read_image(path)
            if image.shape[:2] != (self.info.height, self.info.width):
                raise InvalidInputError(f"{path} is {image.shape[1]}×{image.shape[0]} but the folder's first image is "
                                        f"{self.info.width}×{self.info.height}: all frames must have one size")
            yield Frame(index, index / self.info.fps, image)

    def _read_pyav(self) -> Iterator[Frame]:
        import av

        with av.open(str(self.path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            try:
                for index, decoded in enumerate(container.decode(stream)):
                    time = decoded.time if decoded.time is not None else index / self.info.fps
                    if self.end is not None and time >= self.end + 1.0:
                        return
                    if time < self.start - 1.0:
                        continue
                    image = rotate_upright(decoded.to_ndarray(format="rgb24"), self.info.rotation,
                                           self.info.mirrored)
                    yield Frame(index, float(time), image)
            except av.error.FFmpegError as exc:
                raise MalformedFileError(f"{self.path}: decoding failed after some frames ({exc}); the file may be "
                                         "truncated or damaged") from exc

    def _read_opencv(self) -> Iterator[Frame]:
        import cv2

        with native_output_to_log("OpenCV"):
            capture = cv2.VideoCapture(str(self.path))
        try:
            index = 0
            while True:
                with native_output_to_log("OpenCV"):
                    ok, image = capture.read()
                if not ok:
                    return
                yield Frame(index, index / self.info.fps, cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
                index += 1
        finally:
            capture.release()


def _check_range(start: float, end: float | None, fps: float) -> None:
    from staf.ranges import FLAGS

    FLAGS["--start"].check("--start (seconds)", start)
    if end is not None:
        FLAGS["--end"].check("--end (seconds)", end)
        if not end > start:
            raise InvalidInputError(f"--end must be a number of seconds after --start ({start}), got {end}")
    FLAGS["--fps"].check("--fps (frames/s)", fps)


class VideoWriter:
    """H.264 mp4 writer (PyAV/libx264, yuv420p): frames are (H, W, 3) uint8 RGB of one size.

    Odd sizes are padded by one black row/column (yuv420p needs even sizes). Written to
    ``NAME.partial.mp4`` and renamed on :meth:`close`; :meth:`abort` deletes the partial file.
    """

    def __init__(self, path: str | Path, width: int, height: int, fps: float, crf: int = 20) -> None:
        import av
        from fractions import Fraction

        self.path = Path(path)
        self.partial = self.path.with_name(self.path.stem + ".partial" + self.path.suffix)
        self.width, self.height = width + width % 2, height + height % 2
        self.container = av.open(str(self.partial), mode="w", options={"movflags": "+faststart"})
        rate = Fraction(fps).limit_denominator(1001)
        self.stream = self.container.add_stream("libx264", rate=rate)
        self.stream.width, self.stream.height = self.width, self.height
        self.stream.pix_fmt = "yuv420p"
        self.stream.options = {"crf": str(crf), "preset": "veryfast"}
        self.frames = 0

    def write(self, image: np.ndarray) -> None:
        import av

        if image.shape[0] != self.height or image.shape[1] != self.width:
            padded = np.zeros((self.height, self.width, 3), np.uint8)
            padded[: image.shape[0], : image.shape[1]] = image
            image = padded
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        self.frames += 1

    def close(self) -> Path:
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()
        self.partial.replace(self.path)
        return self.path

    def abort(self) -> None:
        try:
            self.container.close()
        except Exception:  # noqa: BLE001 — already broken; the partial file goes anyway
            pass
        self.partial.unlink(missing_ok=True)
