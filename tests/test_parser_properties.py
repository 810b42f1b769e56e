"""Property-based tests (hypothesis) of the parsers a user's files go through: box files (JSON and
CSV), settings YAML, LSP label arrays and settings mappings. For any input: a result or a
:class:`~staf.errors.StafError` (one line, exit 2 on the command line), never another exception;
and what staf's own formats hold reads back as written."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from staf.config import from_dict, load_yaml
from staf.data.lsp import read_lsp
from staf.data.synthetic import SynthConfig
from staf.errors import StafError
from staf.inference.people import read_boxes_file
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
