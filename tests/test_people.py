"""Box files (``staf demo --boxes``): JSON and CSV layouts, and clear refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest

from staf.errors import InvalidInputError, MalformedFileError, MissingAssetError
from staf.inference.people import FramePeople, check_frames, read_boxes_file


def test_json_dict_list_and_csv_agree(tmp_path):
    expected = {0: np.array([[1.0, 2, 30, 40], [50, 60, 70, 80]]), 2: np.array([[5.0, 5, 15, 25]])}
    (tmp_path / "dict.json").write_text(json.dumps({"0": [[1, 2, 30, 40, 0.9], [50, 60, 70, 80]], "2": [[5, 5, 15, 25]]}))
    (tmp_path / "list.json").write_text(json.dumps([[[1, 2, 30, 40], [50, 60, 70, 80]], [], [[5, 5, 15, 25]]]))
    (tmp_path / "boxes.csv").write_text("frame,x1,y1,x2,y2,score\n0,1,2,30,40,0.9\n0,50,60,70,80,1\n2,5,5,15,25,1\n")
    for name in ("dict.json", "list.json", "boxes.csv"):
        boxes = {frame: value for frame, value in read_boxes_file(tmp_path / name).items() if len(value)}
        assert sorted(boxes) == [0, 2], name
        for frame, value in expected.items():
            np.testing.assert_array_equal(boxes[frame], value)


@pytest.mark.parametrize("name, content, message", [
    ("bad.json", "{oops", "cannot be read"),
    ("short.json", '{"0": [[1, 2, 3]]}', "4 numbers"),
    ("flipped.json", '{"0": [[10, 2, 3, 40]]}', "x2 ≤ x1"),
    ("nan.json", '{"0": [[1, 2, NaN, 40]]}', "not finite"),
    ("negative.json", '{"-1": [[1, 2, 3, 4]]}', "negative"),
    ("header.csv", "frame,a,b\n0,1,2\n", "header"),
    ("text.csv", "frame,x1,y1,x2,y2\n0,a,b,c,d\n", "cannot be read"),
])
def test_bad_box_files(tmp_path, name, content, message):
    (tmp_path / name).write_text(content)
    with pytest.raises(MalformedFileError, match=message):
        read_boxes_file(tmp_path / name)


def test_missing_file_and_frames_outside_the_video(tmp_path):
    with pytest.raises(MissingAssetError):
        read_boxes_file(tmp_path / "none.json")
    with pytest.raises(InvalidInputError, match="none of its frames"):
        check_frames({100: np.ones((1, 4))}, [0, 1, 2], "b.json")
    check_frames({1: np.ones((1, 4)), 100: np.ones((1, 4))}, [0, 1, 2], "b.json")     # some overlap: fine


def test_frame_people_from_boxes():
    people = FramePeople.from_boxes([[0, 0, 1, 1]])
    assert people.boxes.shape == (1, 4) and np.isnan(people.keypoints).all() and people.scores.tolist() == [1.0]
    assert FramePeople.empty().boxes.shape == (0, 4)
