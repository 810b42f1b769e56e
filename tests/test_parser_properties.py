"""Property-based tests (hypothesis) of the parsers a user's files go through: box files (JSON and
CSV), settings YAML, LSP label arrays, settings mappings and video metadata (display rotation,
declared frame rate, real mp4 files written with any of them). For any input: a result or a
:class:`~staf.errors.StafError` (one line, exit 2 on the command line), never another exception;
and what staf's own formats hold reads back as written."""

from __future__ import annotations

import json
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from staf.config import from_dict, load_yaml
from staf.data.lsp import read_lsp
from staf.data.synthetic import SynthConfig
from staf.errors import StafError
from staf.inference.people import read_boxes_file
from staf.inference.video import (FALLBACK_FRAME_RATE, FRAME_RATE_RANGE, VideoSource, plausible_frame_rate,
                                 rotate_upright, upright_rotation)
from staf.training import TrainConfig

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20)

coordinate = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@st.composite
def boxes(draw):
    x1, y1 = draw(coordinate), draw(coordinate)
    return [x1, y1, x1 + draw(st.floats(0.5, 1e5)), y1 + draw(st.floats(0.5, 1e5))]


box_files = st.dictionaries(st.integers(0, 10**6), st.lists(boxes(), min_size=1, max_size=3), max_size=6)


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def assert_same_boxes(read: dict, content: dict) -> None:
    assert set(read) == set(content)
    for frame, rows in content.items():
        np.testing.assert_array_equal(read[frame], np.array(rows))


@SETTINGS
@given(content=box_files)
def test_box_json_reads_back_as_written(tmp_path, content):
    path = _write(tmp_path, "boxes.json", json.dumps({str(frame): rows for frame, rows in content.items()}))
    assert_same_boxes(read_boxes_file(path), content)


@SETTINGS
@given(content=box_files)
def test_box_csv_reads_back_as_written(tmp_path, content):
    lines = ["frame,x1,y1,x2,y2"] + [f"{frame},{','.join(repr(v) for v in row)}"
                                       for frame, rows in content.items() for row in rows]
    assert_same_boxes(read_boxes_file(_write(tmp_path, "boxes.csv", "\n".join(lines) + "\n")), content)


@SETTINGS
@given(value=json_values)
def test_any_json_is_a_box_file_or_a_clear_refusal(tmp_path, value):
    path = _write(tmp_path, "boxes.json", json.dumps(value))
    try:
        read = read_boxes_file(path, (640, 480))
    except StafError:
        return
    for rows in read.values():                                   # what is accepted is usable
        assert rows.ndim == 2 and rows.shape[1] == 4 and np.isfinite(rows).all()
        assert (rows[:, 2] > rows[:, 0]).all() and (rows[:, 3] > rows[:, 1]).all()


@SETTINGS
@given(text=st.text(alphabet=st.sampled_from("frame,x1y2 0123456789.-e\n\"#"), max_size=80))
def test_any_text_is_a_box_csv_or_a_clear_refusal(tmp_path, text):
    try:
        read_boxes_file(_write(tmp_path, "boxes.csv", text))
    except StafError:
        pass


@SETTINGS
@given(text=st.text(alphabet=st.sampled_from("ab: -[]{}&*!|>'\"\n#0123456789.,?"), max_size=60))
def test_any_text_is_settings_yaml_or_a_clear_refusal(text):
    try:
        load_yaml(text, "preset.yaml")
    except StafError as error:
        assert str(error).startswith("preset.yaml: not valid settings YAML")


@SETTINGS
@given(value=json_values)
def test_plain_settings_read_back_as_written(value):
    text = yaml.safe_dump(value)                      # no aliases in plain data
    read = load_yaml(text, "preset.yaml")
    if isinstance(value, float) and math.isnan(value):
        assert math.isnan(read)
    else:
        assert json.dumps(read, sort_keys=True) == json.dumps(value, sort_keys=True)


#: a settings class, the keys to fuzz, and a check of a config it accepted (its fields have their types)
SETTINGS_CLASSES = {
    "synth": (SynthConfig, list(SynthConfig.__dataclass_fields__),
              lambda config: isinstance(config.sequences, int) and isinstance(config.motion_blur, bool)),
    "train": (TrainConfig, ["seed", "val_windows", "precision", "body_model", "freeze_batchnorm", "stage1", "losses",
                            "augment", "crop", "train", "val"],
              lambda config: isinstance(config.seed, int) and isinstance(config.stage1.epochs, int)),
}


@pytest.mark.parametrize("kind", SETTINGS_CLASSES)
@SETTINGS
@given(data=st.data())
def test_any_settings_are_a_config_or_a_clear_refusal(kind, data):
    cls, keys, typed = SETTINGS_CLASSES[kind]
    values = data.draw(st.dictionaries(st.sampled_from(keys), json_values, max_size=4))
    try:
        config = from_dict(cls, values, f"{kind}.yaml")
    except StafError:
        return
    assert typed(config)


@SETTINGS
@given(shape=st.lists(st.integers(0, 16), min_size=0, max_size=4),
       dtype=st.sampled_from(["float64", "float32", "int16", "bool", "complex64", "U3"]))
def test_any_lsp_label_array_is_read_or_refused(tmp_path, shape, dtype):
    (tmp_path / "images").mkdir(exist_ok=True)
    np.save(tmp_path / "joints.npy", np.zeros(shape, dtype=dtype))
    try:
        labels = read_lsp(tmp_path)
    except StafError:
        return
    assert labels.joints.shape == (len(labels), 14, 2) and len(labels) == 0      # no images: nothing to label


# --------------------------------------------------------------------------- video metadata

QUARTERS = (0, 90, 180, 270)


def nearest_quarter(degrees: float) -> tuple[int, Fraction]:
    """Exact reference: the quarter turn nearest ``degrees`` and its angular distance, in fractions."""
    angle = Fraction(degrees) % 360
    distance = {quarter: min((angle - quarter) % 360, (quarter - angle) % 360) for quarter in QUARTERS}
    best = min(distance.values())
    return min(q for q in QUARTERS if distance[q] == best), best


rotation_values = (st.floats(-1e6, 1e6) | st.floats() | st.integers(-10**400, 10**400) | st.none()
                   | st.text(alphabet=st.sampled_from("0123456789.-e+nai f"), max_size=8))


@given(raw=rotation_values)
@settings(max_examples=300, deadline=None)
def test_any_display_rotation_gives_a_quarter_turn_near_it(raw):
    """Whatever a container's display matrix gives (a float, an integer, NaN, a text, none), the
    rotation used is a quarter turn, the nearest one when the value is an angle (ties either way),
    with a warning exactly when the value is not within 1° of a quarter turn."""
    import logging

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("staf.inference.video")
    logger.addHandler(handler)
    try:
        rotation = upright_rotation(raw, "clip.mp4")
    finally:
        logger.removeHandler(handler)
    assert rotation in QUARTERS
    try:
        degrees = float(raw or 0.0)
    except (TypeError, ValueError, OverflowError):
        degrees = math.nan
    if not math.isfinite(degrees):
        assert rotation == 0 and len(records) == 1
        return
    _, best = nearest_quarter(degrees)
    rotation_distance = min((Fraction(degrees) - rotation) % 360, (rotation - Fraction(degrees)) % 360)
    assert rotation_distance <= 45, (degrees, rotation)
    assert len(records) == (best > 1), (degrees, best, records)


@given(fps=st.floats(allow_nan=True, allow_infinity=True))
@settings(max_examples=200, deadline=None)
def test_any_declared_frame_rate_is_used_or_replaced_by_the_fallback(fps):
    low, high = FRAME_RATE_RANGE
    used = plausible_frame_rate(fps, "clip.mp4")
    assert low <= used <= high
    assert used == (fps if low <= fps <= high else FALLBACK_FRAME_RATE)


@given(rotation=st.sampled_from(QUARTERS), height=st.integers(1, 9), width=st.integers(1, 9))
@settings(max_examples=60, deadline=None)
def test_rotate_upright_is_undone_by_the_opposite_turn(rotation, height, width):
    image = np.arange(height * width * 3, dtype=np.uint8).reshape(height, width, 3)
    turned = rotate_upright(image, rotation)
    assert turned.shape == ((width, height, 3) if rotation in (90, 270) else image.shape)
    np.testing.assert_array_equal(rotate_upright(turned, (360 - rotation) % 360), image)


def dihedral(image: np.ndarray) -> list[np.ndarray]:
    """The eight turns and mirrors of an image."""
    turns = [np.rot90(image, k=k) for k in range(4)]
    return turns + [turn[:, ::-1] for turn in turns]


def corner_pattern(height: int, width: int, shade: int) -> np.ndarray:
    """A frame whose eight turns and mirrors all differ: a ramp left to right, a bright top-left block."""
    image = np.tile(np.linspace(30, 140, width, dtype=np.uint8)[None, :, None], (height, 1, 3))
    image[: height // 3, : width // 4] = 255
    return (image.astype(int) + shade).clip(0, 255).astype(np.uint8)


@given(rate=st.sampled_from([Fraction(1), Fraction(12), Fraction(24000, 1001), Fraction(25), Fraction(30000, 1001),
                             Fraction(60), Fraction(240)]),
       degrees=st.floats(-360, 360, allow_nan=False), hflip=st.booleans(), vflip=st.booleans(),
       frames=st.integers(1, 4), width=st.sampled_from([16, 36, 64]), height=st.sampled_from([16, 24, 48]))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_written_video_metadata_reads_back(tmp_path, rate, degrees, hflip, vflip, frames, width, height):
    """A real mp4 with any frame rate, display rotation, mirroring, size and length: staf reads the
    declared rate and every frame as a player shows it: turned by the nearest quarter turn, then
    mirrored as the matrix says (PyAV's ``set_display_rotation``: the flips come after the turn)."""
    from test_video import write_video

    quarter, distance = nearest_quarter(degrees)
    assume(distance < 44)                                          # not a tie between two quarter turns
    path = tmp_path / "clip.mp4"
    stored = [corner_pattern(height, width, 10 * index) for index in range(frames)]
    write_video(path, stored, rate, degrees, hflip, vflip)
    source = VideoSource(path)
    assert source.info.fps == pytest.approx(float(rate), rel=1e-3)
    shown = [np.rot90(image, k=quarter // 90) for image in stored]
    shown = [image[:, ::-1] if hflip else image for image in shown]
    shown = [image[::-1] if vflip else image for image in shown]
    assert (source.info.height, source.info.width, 3) == shown[0].shape
    images = [frame.image for frame in source]
    assert len(images) == frames
    for image, stored_image, expected in zip(images, stored, shown):
        error = np.abs(image.astype(int) - expected).mean()
        others = [np.abs(image.astype(int) - candidate).mean() for candidate in dihedral(stored_image)
                  if candidate.shape == image.shape and not np.array_equal(candidate, expected)]
        assert error < 6 and all(error < other for other in others), (quarter, hflip, vflip, error, others)
