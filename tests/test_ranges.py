"""The numeric ranges of the command line (``staf.ranges``): one row per numeric flag, README's
table made from it, the field-of-view rule for ``--focal``, boxes against the image, devices,
``--pose`` values, and argparse's own errors as one line."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from staf.cli import build_parser, main
from staf.devices import check_device
from staf.errors import InvalidInputError, StafError
from staf.inference.people import read_boxes_file
from staf.ranges import FIELD_OF_VIEW, FLAGS, Range, check_field_of_view, markdown_table

README = Path(__file__).resolve().parents[1] / "README.md"


def parser_flags() -> dict[str, set[str]]:
    """Every flag of every command → the argparse types it is parsed with."""
    commands = next(action for action in build_parser()._actions if action.dest == "command").choices
    flags: dict[str, set[str]] = {}
    for name, parser in commands.items():
        for action in parser._actions:
            for option in action.option_strings:
                flags.setdefault(option, set()).add(getattr(action.type, "__name__", str(action.type)))
    return flags


def test_every_numeric_flag_has_a_range_and_every_range_a_flag():
    flags = parser_flags()
    numeric = {flag for flag, types in flags.items() if types & {"int", "float"} and flag.startswith("--")}
    assert numeric - set(FLAGS) == set()
    assert set(FLAGS) - set(flags) == set()
    for flag in numeric:                                  # whole-number flags are parsed as int, others as float
        assert FLAGS[flag].integer == ("int" in flags[flag]), flag


def test_readme_table_is_the_table_of_ranges():
    text = README.read_text()
    table = re.search(r"<!-- ranges:start -->\n(.*?)\n<!-- ranges:end -->", text, re.S).group(1)
    assert table == markdown_table()


def test_range_bounds_and_messages():
    whole = Range("demo", 1, 1000, "tracks kept", integer=True)
    whole.check("--max-people", 1)
    whole.check("--max-people", 1000)
    for value in (0, 1001, -(10**30)):
        with pytest.raises(StafError, match="--max-people must be an integer ≥ 1 and ≤ 1000"):
            whole.check("--max-people", value)
    for value in (2.5, True, "3", float("nan"), float("inf")):
        with pytest.raises(StafError, match="--max-people must be an integer, got"):
            whole.check("--max-people", value)
    opened = Range("demo", 0, 1000, "Hz", low_open=True)
    opened.check("--x", 5e-324)                           # the smallest denormal is > 0
    with pytest.raises(StafError, match="> 0 and ≤ 1000, got 0"):
        opened.check("--x", 0.0)
    assert opened.text() == "0 < x ≤ 1 000" and FLAGS["--seed"].text() == "0 ≤ x ≤ 2⁶³ − 1"


@pytest.mark.parametrize("width, height", [(1280, 720), (160, 160)])
def test_field_of_view_of_focal(width, height):
    diagonal = math.hypot(width, height)

    def degrees(focal):                                   # independent: the pinhole's angle over the diagonal
        return 2 * math.degrees(math.atan2(diagonal / 2, focal))

    for focal in (diagonal, diagonal * 0.05, diagonal * 50):
        assert FIELD_OF_VIEW[0] <= degrees(focal) <= FIELD_OF_VIEW[1]
        check_field_of_view(focal, width, height)
    for focal in (1.0, diagonal * 0.04, diagonal * 60):
        with pytest.raises(InvalidInputError, match=rf"{width}×{height} image is a field of view of"):
            check_field_of_view(focal, width, height)
    shortest = diagonal / (2 * math.tan(math.radians(85)))
    check_field_of_view(shortest * 1.001, width, height)
    with pytest.raises(InvalidInputError, match=f"give between {shortest:.0f} and"):
        check_field_of_view(shortest * 0.99, width, height)


def test_boxes_are_checked_against_the_image(tmp_path):
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps({"0": [[-20, -10, 50, 90]], "1": [[600, 300, 700, 500]]}))   # cut by the edge: fine
    boxes = read_boxes_file(path, (640, 480))
    np.testing.assert_array_equal(boxes[0], [[-20, -10, 50, 90]])
    for box, what in (([-500, -500, -100, -100], "lies outside the 640×480 image"),
                      ([640, 0, 700, 100], "lies outside"),
                      ([0, 0, 2e38, 2e38], "is more than 10 times the size of the 640×480 image"),
                      ([10, 10, 20, 6401 + 10], "is more than 10 times")):
        path.write_text(json.dumps({"3": [[10, 10, 20, 20], box]}))
        with pytest.raises(InvalidInputError, match=f"frame 3 has a box .* that {what}"):
            read_boxes_file(path, (640, 480))
    assert read_boxes_file(path)[3].shape == (2, 4)        # without the image size only the file's own rules


def test_devices_staf_does_not_run_on_are_refused():
    check_device("cpu")
    for device in ("meta", "nonsense", "cuda:x", ""):
        with pytest.raises(StafError, match=f"--device {device}: not a device staf runs on"):
            check_device(device)


def test_pose_values_beyond_100_radians_are_refused(tmp_path, capsys):
    pose = tmp_path / "pose.npy"
    np.save(pose, np.full(72, 1e300))
    assert main(["body", "--out", str(tmp_path / "b.obj"), "--pose", str(pose)]) == 2
    assert "axis-angle values must lie within ±100 rad" in capsys.readouterr().err
    np.save(pose, np.full(72, 99.0))
    assert main(["body", "--out", str(tmp_path / "b.obj"), "--pose", str(pose)]) == 0
    assert np.isfinite(np.loadtxt(tmp_path / "b.obj", usecols=(1, 2, 3), comments=("#", "f", "vn", "vt"))).all()


def test_argparse_errors_are_one_line_and_help_is_status_0(capsys):
    assert main(["demo", "x", "--out", "o", "--max-people", "1e3"]) == 2
    error = capsys.readouterr().err.strip()
    assert error == "staf demo: error: argument --max-people: invalid int value: '1e3'; see 'staf demo --help'"
    assert main(["bogus"]) == 2 and len(capsys.readouterr().err.strip().splitlines()) == 1
    assert main(["synth", "--help"]) == 0 and "--sequences" in capsys.readouterr().out
