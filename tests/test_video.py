"""Video in and out: PyAV round trips, display rotation, time ranges, image folders, bad files."""

from __future__ import annotations

from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

from staf.errors import InvalidInputError, MalformedFileError, MissingAssetError
from staf.inference.video import (VideoSource, VideoWriter, natural_key, plausible_frame_rate, rotate_upright,
                                 upright_rotation)


def moving_square(frames: int, width: int = 64, height: int = 48) -> list[np.ndarray]:
    """Frames with a white 10×10 square moving right by 3 px per frame on a grey ramp."""
    out = []
    for index in range(frames):
        image = np.tile(np.linspace(40, 120, width, dtype=np.uint8)[None, :, None], (height, 1, 3))
        image[10:20, 3 * index : 3 * index + 10] = 255
        out.append(image)
    return out


def write_video(path, frames, fps=25.0, rotation=None, hflip=False, vflip=False):
    """An H.264 mp4 of (H, W, 3) frames at ``fps`` (an int, float or Fraction, CRF 10), with a
    display matrix of ``rotation`` degrees (and mirrored by the flips) when given."""
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=fps if isinstance(fps, Fraction) else int(fps))
    stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
    stream.options = {"crf": "10"}               # near-lossless: x264's default left 16 × 16 frames at 240 fps
    if rotation is not None:                     # 6.5 grey levels off on average
        stream.set_display_rotation(rotation, hflip=hflip, vflip=vflip)
    for image in frames:
        for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()


def test_writer_round_trip(tmp_path):
    frames = moving_square(12)
    writer = VideoWriter(tmp_path / "out.mp4", 64, 48, 25.0, crf=10)
    for image in frames:
        writer.write(image)
    assert writer.close() == tmp_path / "out.mp4"
    assert not (tmp_path / "out.partial.mp4").exists()
    source = VideoSource(tmp_path / "out.mp4")
    assert (source.info.width, source.info.height, source.info.fps, source.info.codec) == (64, 48, 25.0, "h264")
    decoded = list(source)
    assert [f.index for f in decoded] == list(range(12))
    np.testing.assert_allclose([f.time for f in decoded], np.arange(12) / 25.0, atol=1e-6)
    for original, frame in zip(frames, decoded):
        assert np.abs(frame.image.astype(int) - original).mean() < 3.0
        # the square is where it was drawn (x of its centre within a pixel)
        assert abs(np.where(frame.image[15, :, 0] > 200)[0].mean() - np.where(original[15, :, 0] > 200)[0].mean()) < 1.0


def test_writer_pads_odd_sizes_and_abort_leaves_nothing(tmp_path):
    writer = VideoWriter(tmp_path / "odd.mp4", 63, 47, 30.0)
    assert (writer.width, writer.height) == (64, 48)
    writer.write(moving_square(1, 63, 47)[0])
    writer.abort()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_display_rotation_is_applied(tmp_path, rotation):
    frames = moving_square(3)
    write_video(tmp_path / "rotated.mp4", frames, rotation=rotation)
    source = VideoSource(tmp_path / "rotated.mp4")
    assert source.info.rotation == rotation
    expected = np.rot90(frames[0], k=rotation // 90)     # FFmpeg: the angle is counter-clockwise
    assert (source.info.height, source.info.width) == expected.shape[:2]
    image = next(iter(source)).image
    assert image.shape == expected.shape
    assert np.abs(image.astype(int) - expected).mean() < 3.0


def test_rotate_upright_is_counter_clockwise():
    image = np.zeros((2, 3, 3), np.uint8)
    image[0, 2] = 255                                   # top right
    assert rotate_upright(image, 90)[0, 0, 0] == 255    # → top left after a quarter turn CCW
    assert rotate_upright(image, 0) is image


def test_start_and_end_select_frames_by_time(tmp_path):
    write_video(tmp_path / "clip.mp4", moving_square(12))
    source = VideoSource(tmp_path / "clip.mp4", start=0.2, end=0.4)
    assert [f.index for f in source] == [5, 6, 7, 8, 9]
    assert source.expected_frames() == 5


def test_image_folder_in_natural_order(tmp_path):
    frames = moving_square(11)
    for index, image in enumerate(frames):
        cv2.imwrite(str(tmp_path / f"frame{index}.png"), image[..., ::-1])
    (tmp_path / "notes.txt").write_text("not an image")
    source = VideoSource(tmp_path, fps=10)
    decoded = list(source)
    assert [f.index for f in decoded] == list(range(11))
    assert np.array_equal(decoded[10].image, frames[10])           # frame10 after frame9, not after frame1
    assert decoded[3].time == pytest.approx(0.3)
    assert sorted(["f10", "f2", "f1"], key=natural_key) == ["f1", "f2", "f10"]


def test_image_folder_of_mixed_sizes_is_refused(tmp_path):
    cv2.imwrite(str(tmp_path / "0.png"), np.zeros((10, 10, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "1.png"), np.zeros((12, 10, 3), np.uint8))
    with pytest.raises(InvalidInputError, match="one size"):
        list(VideoSource(tmp_path))


def test_bad_inputs(tmp_path):
    with pytest.raises(MissingAssetError, match="does not exist"):
        VideoSource(tmp_path / "missing.mp4")
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(MalformedFileError, match="empty"):
        VideoSource(tmp_path / "empty.mp4")
    (tmp_path / "text.mp4").write_text("hello, not a video\n" * 20)
    with pytest.raises(MalformedFileError, match="not a video"):
        VideoSource(tmp_path / "text.mp4")
    (tmp_path / "folder").mkdir()
    with pytest.raises(InvalidInputError, match="no images"):
        VideoSource(tmp_path / "folder")
    write_video(tmp_path / "clip.mp4", moving_square(3))
    for start, end in ((-1, None), (2.0, 1.0), (float("nan"), None)):
        with pytest.raises(InvalidInputError):
            VideoSource(tmp_path / "clip.mp4", start, end)


def test_truncated_video_reports_damage(tmp_path):
    write_video(tmp_path / "clip.mp4", moving_square(12))
    data = (tmp_path / "clip.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 3])
    with pytest.raises(MalformedFileError):
        source = VideoSource(tmp_path / "cut.mp4")
        frames = list(source)
        assert len(frames) == 12          # a file that still decodes fully would fail here


def test_opencv_reads_what_pyav_cannot_open(tmp_path, monkeypatch):
    write_video(tmp_path / "clip.mp4", moving_square(6))
    expected = [frame.image for frame in VideoSource(tmp_path / "clip.mp4")]

    def refuse(*args, **kwargs):
        raise av.error.InvalidDataError(1094995529, "Invalid data found when processing input")

    monkeypatch.setattr(av, "open", refuse)
    source = VideoSource(tmp_path / "clip.mp4")
    assert source.info.reader == "opencv" and source.info.fps == pytest.approx(25.0)
    frames = list(source)
    assert len(frames) == 6
    for frame, image in zip(frames, expected):
        assert np.abs(frame.image.astype(int) - image).mean() < 2.0


@pytest.mark.parametrize("raw, expected, warned", [(100, 90, True), (45.5, 90, True), (-90, 270, False),
                                                    (180.4, 180, False), (float("nan"), 0, True), (None, 0, False)])
def test_upright_rotation_takes_the_nearest_quarter_turn(raw, expected, warned, caplog):
    with caplog.at_level("WARNING", logger="staf"):
        assert upright_rotation(raw, "clip.mp4") == expected
    assert bool(caplog.records) == warned
    if warned:
        assert "clip.mp4" in caplog.text and ("nearest" in caplog.text or "no rotation" in caplog.text)


def test_odd_display_rotation_reads_turned_by_the_nearest(tmp_path, caplog):
    """A 100° display matrix (not a multiple of 90°) is read as 90°, with a warning, frames and
    size consistent (it used to end in IndexError)."""
    frames = moving_square(3)
    write_video(tmp_path / "odd.mp4", frames, rotation=100)
    with caplog.at_level("WARNING", logger="staf"):
        source = VideoSource(tmp_path / "odd.mp4")
    assert source.info.rotation == 90 and "not a multiple of 90°" in caplog.text
    image = next(iter(source)).image
    assert image.shape == (source.info.height, source.info.width, 3) == np.rot90(frames[0]).shape


@pytest.mark.parametrize("declared, used", [(25.0, 25.0), (1e6, 30.0), (0.01, 30.0)])
def test_implausible_frame_rates_fall_back(declared, used, caplog):
    with caplog.at_level("WARNING", logger="staf"):
        assert plausible_frame_rate(declared, "clip.mp4") == used
    assert bool(caplog.records) == (declared != used)


def test_truncated_video_is_read_with_a_warning_and_the_counts(tmp_path, caplog):
    """An mp4 whose index comes first (``+faststart``, as many cameras and staf's own writer put
    it) cut short still decodes its first frames; the demo's reading step says how many of the
    declared frames it read (the manifest records both counts)."""
    from staf.inference.people import FramePeople
    from staf.inference.pipeline import detect_people

    writer = VideoWriter(tmp_path / "clip.mp4", 64, 48, 25.0)
    for image in moving_square(20) * 3:
        writer.write(image)
    writer.close()
    data = (tmp_path / "clip.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) * 4 // 5])         # 4/5 of 4.3 kB: 30 of 60 frames

    class Nobody:
        def __call__(self, frame):
            return FramePeople.empty()

        def finish(self, indices):
            pass

    source = VideoSource(tmp_path / "cut.mp4")
    assert source.expected_frames() == 60
    with caplog.at_level("WARNING", logger="staf"):
        indices, _ = detect_people(source, Nobody(), progress=False)
    assert 0 < len(indices) < 59
    assert f"read {len(indices)} of the 60 frames the container declares" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="staf"):
        detect_people(VideoSource(tmp_path / "clip.mp4"), Nobody(), progress=False)
    assert not caplog.records


@pytest.mark.parametrize("hflip, vflip", [(True, False), (False, True), (True, True)])
def test_mirrored_display_matrix_is_mirrored_not_turned(tmp_path, hflip, vflip):
    """A display matrix that mirrors (a front camera's, an EXIF orientation 2/4/5/7): PyAV's
    ``frame.rotation`` reads a left-right flip as a half turn, which drew the video upside down."""
    frames = moving_square(2)
    write_video(tmp_path / "mirror.mp4", frames, rotation=0, hflip=hflip, vflip=vflip)
    source = VideoSource(tmp_path / "mirror.mp4")
    expected = frames[0][::-1 if vflip else 1, ::-1 if hflip else 1]
    orientation = {(True, False): (0, True), (False, True): (180, True), (True, True): (180, False)}[hflip, vflip]
    assert (source.info.rotation, source.info.mirrored) == orientation      # a flip up-down: a half turn, mirrored
    assert np.abs(next(iter(source)).image.astype(int) - expected).mean() < 2.0
