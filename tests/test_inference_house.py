"""The seams of the video pipeline: the model loader, a stage, a detector and an exporter each
supplied by a test, the tracker's detection indices, one box module and one IoU, the typed camera."""

from __future__ import annotations

import json
import math

import joblib
import numpy as np
import pytest
import torch

from staf.cli import main
from staf.data.crops import CropRule
from staf.data.synthetic import SynthConfig, synthesize
from staf.errors import InvalidInputError, MalformedFileError, StafError
from staf.geometry.boxes import box_iou, centre_size_to_corners, corners_to_centre_size, iou_matrix, square_box
from staf.geometry.cameras import CliffCamera, CropCamera, crop_perspective_project, crop_to_image_points
from staf.inference import exporters
from staf.inference.blazepose import Roi, world_landmarks
from staf.inference.people import FramePeople
from staf.inference.pipeline import DemoConfig, run_demo
from staf.inference.stages import STAGES
from staf.inference.tracking import track_boxes
from staf.models import build_model, load
from staf.models.checkpoint import save_checkpoint
from staf.models.packed import default_model_path

FRAMES = 12
SIZE = 160
@pytest.fixture(scope="module")
def clip(tmp_path_factory, body, tiny_staf_config):
    """One synthetic one-person image folder, its true boxes (x1 y1 x2 y2) and a tiny checkpoint."""
    root = tmp_path_factory.mktemp("house")
    synthesize(SynthConfig(sequences=1, frames=FRAMES, size=SIZE, seed=11, split="house"), root, progress=False)
    from staf.data.db import read_db

    data = read_db(root / "synth_house_db.pt")
    torch.manual_seed(0)
    model = build_model("staf", tiny_staf_config, body)
    save_checkpoint(root / "tiny.pt", model, crop=CropRule(scale=1.2))
    return {"frames": root / "seq_0000" / "frames", "boxes": centre_size_to_corners(data["bbox"]),
            "model": model, "checkpoint": root / "tiny.pt"}


# --------------------------------------------------------------------------- the loader


def test_load_default_path_mean_pose_and_a_wrong_file(clip, tmp_path):
    shipped = load("default")
    assert shipped.path == default_model_path() and shipped.name == f"the default model ({shipped.path.name})"
    assert shipped.model.name == "staf" and isinstance(shipped.camera, CropCamera)
    assert shipped.provenance.get("command") and shipped.crop_rule == CropRule()      # the packed file's record

    mine = load(clip["checkpoint"])
    assert mine.name == str(clip["checkpoint"]) and mine.crop_rule == CropRule(scale=1.2)   # the file's crop rule
    for name, value in clip["model"].state_dict().items():
        torch.testing.assert_close(mine.model.state_dict()[name], value, rtol=0, atol=0)

    baseline = load("mean-pose")
    assert baseline.model.name == "mean-pose" and baseline.path is None and baseline.provenance == {}
    assert baseline.name == "mean-pose baseline"

    wrong = tmp_path / "notes.pt"
    wrong.write_text("not a model")
    with pytest.raises(MalformedFileError, match="not a torch file"):
        load(wrong)
    with pytest.raises(StafError, match="does not exist"):
        load(tmp_path / "missing.pt")


def test_each_model_brings_its_camera():
    from staf.models.mean_pose import MeanPose
    from staf.models.staf import STAF
    from staf.models.tar import TAR

    assert type(STAF.camera) is CropCamera and type(MeanPose.camera) is CropCamera
    assert isinstance(TAR.camera, CliffCamera) and TAR.camera.name == "cliff"


# --------------------------------------------------------------------------- a stage, a detector


class ShiftCamera:
    """A stage written in a test: moves every body's crop camera, and remembers the records it saw."""

    name = "shift"

    def __init__(self) -> None:
        self.seen = []

    def enabled(self, config) -> bool:
        return True

    def __call__(self, records, context):
        for record in records:
            prediction = record.prediction
            cam = prediction.cam + torch.tensor([0.0, 0.1, 0.0])
            record.prediction = context.model.predict_body(prediction.pose_6d, prediction.betas, cam)
        self.seen = records
        return records


class GivenPeople:
    """A detector stub: the true box of each frame, keypoints and world landmarks made from it."""

    def __init__(self, boxes: np.ndarray) -> None:
        self.boxes, self.finished = boxes, None

    def keypoints(self, index: int) -> np.ndarray:
        x1, y1, x2, y2 = self.boxes[index]
        points = np.stack([np.linspace(x1, x2, 33), np.linspace(y1, y2, 33), np.full(33, 0.9)], axis=1)
        return points

    def world(self, index: int) -> np.ndarray:
        return np.full((33, 3), 0.01 * index)

    def __call__(self, frame) -> FramePeople:
        return FramePeople(self.boxes[frame.index][None], self.keypoints(frame.index)[None], np.array([0.8]),
                           self.world(frame.index)[None])

    def finish(self, frame_indices) -> None:
        self.finished = list(frame_indices)


def test_a_stage_and_a_detector_supplied_by_a_test(clip, body, tmp_path):
    detector, shift = GivenPeople(clip["boxes"]), ShiftCamera()
    config = DemoConfig(render=False, min_track_length=3, refine=False)     # the stub's keypoints are no body
    plain = run_demo(clip["frames"], tmp_path / "plain", clip["model"], CropRule(), config, detector=detector,
                     progress=False)
    assert detector.finished == list(range(FRAMES)) and plain.tracks == {0: FRAMES}
    shifted = run_demo(clip["frames"], tmp_path / "shifted", clip["model"], CropRule(), config,
                       detector=GivenPeople(clip["boxes"]), stages=(*STAGES, shift), progress=False)
    assert list(shifted.seconds) == ["read+detect", "track", "crop", "recover", "camera", "shift", "write"]
    record = shift.seen[0]                                  # the detector's output reached the record
    np.testing.assert_array_equal(record.keypoints, np.stack([detector.keypoints(i) for i in range(FRAMES)]))
    np.testing.assert_array_equal(record.world_landmarks, np.stack([detector.world(i) for i in range(FRAMES)]))
    np.testing.assert_array_equal(record.scores, np.full(FRAMES, 0.8))
    before, after = (joblib.load(tmp_path / name / "staf_output.pkl")[0] for name in ("plain", "shifted"))
    np.testing.assert_allclose(after["pred_cam"] - before["pred_cam"], np.tile([0.0, 0.1, 0.0], (FRAMES, 1)), atol=1e-6)
    np.testing.assert_array_equal(after["keypoints2d"], record.keypoints.astype(np.float32))
    # the exported joints2d follow the moved camera: the crop projection of the new camera
    joints = torch.as_tensor(after["joints3d"])
    expected = crop_to_image_points(crop_perspective_project(joints, torch.as_tensor(after["pred_cam"])),
                                    torch.as_tensor(after["crop_boxes"]))
    np.testing.assert_allclose(after["joints2d"], expected.numpy(), atol=1e-3)


# --------------------------------------------------------------------------- an exporter


class JointsCsv:
    """An exporter written in a test: each track's SMPL-24 joints per frame as CSV."""

    name = "csv"

    def write_track(self, folder, record, context):
        name = f"track_{record.track_id}_joints.csv"
        rows = record.prediction.joints.reshape(len(record), -1).numpy()
        np.savetxt(folder / name, rows, delimiter=",", fmt="%.6f")
        return [name]


@pytest.fixture
def csv_exporter():
    exporters.register_exporter(JointsCsv())
    yield
    exporters.EXPORTERS.pop("csv")


def test_an_exporter_registered_in_a_test_appears_under_formats(clip, tmp_path, capsys, csv_exporter):
    assert main(["demo", "--help"]) == 0
    assert "csv" in capsys.readouterr().out
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({str(i): [b.tolist()] for i, b in enumerate(clip["boxes"])}))
    out = tmp_path / "out"
    assert main(["demo", str(clip["frames"]), "--boxes", str(boxes), "--checkpoint", str(clip["checkpoint"]),
                 "--out", str(out), "--formats", "npz,csv", "--no-render", "--quiet"]) == 0
    manifest = json.loads((out / "staf_demo.json").read_text())
    assert manifest["files"] == ["staf_output.npz", "track_0_joints.csv", "staf_demo.json"]
    assert manifest["settings"]["formats"] == ["npz", "csv"]
    joints = np.loadtxt(out / "track_0_joints.csv", delimiter=",").reshape(-1, 24, 3)
    verts = np.load(out / "staf_output.npz")["track0/verts"]
    assert joints.shape == (FRAMES, 24, 3) and np.isfinite(verts).all()


def test_unknown_formats_are_refused(clip, tmp_path, capsys):
    status = main(["demo", str(clip["frames"]), "--out", str(tmp_path / "out"), "--formats", "pkl,fbx", "--quiet"])
    assert status == 2 and "--formats pkl,fbx: unknown fbx; choose from pkl, npz, glb, bvh, trajectory, obj" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert exporters.parse_formats("glb,pkl", obj=True) == ("pkl", "glb", "obj")       # registry order
    with pytest.raises(InvalidInputError, match="no format"):
        exporters.parse_formats(" , ")


def test_stage_numbers_follow_the_recipe(tmp_path, capsys):
    status = main(["train", "--preset", "train-synth-cpu", "--out", str(tmp_path / "run"), "--stage", "3",
                   "--data-root", str(tmp_path)])
    assert status == 2 and "--stage 3: this model trains in 2 stage(s) (1 … 2)" in capsys.readouterr().err
    status = main(["train", "--preset", "train-synth-cpu", "--out", str(tmp_path / "run"), "--stage", "first"])
    assert status == 2 and "--stage first: give a stage number" in capsys.readouterr().err


# --------------------------------------------------------------------------- tracker, boxes, cameras


def test_the_tracker_keeps_each_frames_detection_index():
    rng = np.random.default_rng(0)
    people = [np.array([100.0, 50, 140, 150]), np.array([300.0, 60, 350, 170])]
    detections, order = [], []
    for frame in range(12):
        if frame == 5:
            detections.append(people[1][None] + frame)          # person 0 missed in frame 5
            order.append([1])
            continue
        permutation = rng.permutation(2)
        detections.append(np.stack([people[i] + frame for i in permutation]))
        order.append(list(permutation))
    tracks = track_boxes(detections)
    assert len(tracks) == 2
    for track in tracks:
        person = int(track.boxes[0, 0] > 200)
        for frame, index, box, detected in zip(track.frames, track.detections, track.boxes, track.detected):
            if frame == 5 and person == 0:
                assert index == -1 and not detected                 # interpolated across the gap
                np.testing.assert_allclose(box, people[0] + 5)
            else:
                assert detected and order[frame][index] == person
                np.testing.assert_array_equal(detections[frame][index], box)


def test_box_layouts_round_trip_and_one_iou():
    corners = np.array([[10.0, 20, 50, 100], [0, 0, 1, 3]])
    centre = corners_to_centre_size(corners)
    np.testing.assert_array_equal(centre, [[30, 60, 40, 80], [0.5, 1.5, 1, 3]])
    np.testing.assert_array_equal(centre_size_to_corners(centre), corners)
    np.testing.assert_array_equal(square_box(centre, 1.5), [[30, 60, 120], [0.5, 1.5, 4.5]])
    np.testing.assert_array_equal(CropRule(scale=1.5).squares_of_corners(corners), square_box(centre, 1.5))
    a, b = np.array([0.0, 0, 10, 10]), np.array([5.0, 0, 15, 10])
    assert box_iou(a, b) == pytest.approx(50 / 150)
    assert iou_matrix(np.stack([a, b]), np.stack([b, a + 100])).tolist() == [[pytest.approx(1 / 3), 0.0], [1.0, 0.0]]
    assert box_iou(np.zeros(4), np.zeros(4)) == 0.0                  # two empty boxes: no overlap, no NaN


def test_one_translation_formula_for_both_cameras():
    """``transl`` of both cameras is CLIFF's (hand case); each camera's overlay points land on
    the pixels its projection gives (float64)."""
    cam = torch.tensor([[1.0, 0.1, -0.2], [0.8, 0.0, 0.3]], dtype=torch.float64)
    boxes = torch.tensor([[500.0, 500, 200], [700, 300, 160]], dtype=torch.float64)
    translation = CropCamera().translation(cam, boxes, (1000, 1000), 1000.0)
    # tz = 2f / (s·size); the offset of the box from the image centre adds 2 (c − W/2) / (s·size)
    expected = torch.tensor([[0.1, -0.2, 10.0], [2 * 200 / 128 + 0.0, 0.3 + 2 * -200 / 128, 2000 / 128]],
                            dtype=torch.float64)
    torch.testing.assert_close(translation, expected)
    torch.testing.assert_close(CliffCamera().translation(cam, boxes, (1000, 1000), 1000.0), expected)
    points = torch.randn(2, 7, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2)) * 0.3
    principal = torch.tensor([499.5, 499.5], dtype=torch.float64)
    shared = CliffCamera().camera_points(points, cam, boxes, 1000.0, (1000, 1000), principal)
    pixels = 1000.0 * shared[..., :2] / shared[..., 2:] + principal
    moved = points + translation[:, None]
    centred = 1000.0 * moved[..., :2] / moved[..., 2:] + 500.0            # CLIFF: principal point at W/2
    torch.testing.assert_close(pixels, centred)


def test_world_landmarks_turn_back_by_the_roi_rotation():
    raw = np.zeros((39, 3))
    raw[0] = [0.1, 0.0, 0.2]
    raw[11] = [0.0, -0.3, -0.1]
    turned = world_landmarks(raw.reshape(-1), Roi(50.0, 50.0, 100.0, rotation=math.pi / 2))
    assert turned.shape == (33, 3)
    np.testing.assert_allclose(turned[0], [0.0, 0.1, 0.2], atol=1e-12)      # x → y under a quarter turn
    np.testing.assert_allclose(turned[11], [0.3, 0.0, -0.1], atol=1e-12)
    np.testing.assert_array_equal(world_landmarks(raw.reshape(-1), Roi(0, 0, 10.0)), raw[:33])
