"""The ``refine`` stage inside ``staf demo``, started from STAF, TAR and the mean pose: the refined
bodies move onto the detector's keypoints, and the network's own bodies are exported unchanged
under ``*_network`` keys (docs/demo.md, "Keypoint-guided refinement")."""

from __future__ import annotations

import math

import joblib
import numpy as np
import pytest
import torch

from staf.body.landmarks import LandmarkMap
from staf.data.crops import CropRule
from staf.data.db import read_db
from staf.data.synthetic import SynthConfig, synthesize
from staf.geometry.rotations import axis_angle_to_matrix
from staf.inference.people import FramePeople
from staf.inference.pipeline import DemoConfig, run_demo
from staf.inference.refine import LandmarkBody, project
from staf.models import build_model, load

FRAMES = 12
SIZE = 160
FOCAL = math.hypot(SIZE, SIZE)                     # the demo's default: the image diagonal
NETWORK_KEYS = ("pose", "betas", "rotmat", "pred_cam", "transl", "joints3d", "joints2d")


@pytest.fixture(scope="module")
def truth(tmp_path_factory, body):
    """A synthetic clip's true poses and shapes, placed 4 m in front of the demo's camera: the
    33 landmarks and SPIN-49 joints that camera sees, in pixels."""
    root = tmp_path_factory.mktemp("refine_stage")
    synthesize(SynthConfig(sequences=1, frames=FRAMES, size=SIZE, seed=5, split="stage"), root, progress=False)
    data = read_db(root / "synth_stage_db.pt")
    pose = torch.as_tensor(data["pose"], dtype=torch.float32)
    betas = torch.as_tensor(data["shape"], dtype=torch.float32)
    transl = torch.stack([torch.linspace(-0.2, 0.2, FRAMES), torch.full((FRAMES,), 0.1), torch.full((FRAMES,), 4.0)], 1)
    rotmat = axis_angle_to_matrix(pose.view(FRAMES, 24, 3))
    landmarks, _ = LandmarkBody(body, LandmarkMap.shipped())(rotmat, betas[:1], transl)
    centre = torch.tensor([SIZE / 2.0, SIZE / 2.0])
    pixels = project(landmarks, FOCAL, centre).numpy()
    spin49 = body(pose, betas[:1].expand(FRAMES, -1)).joint_sets["spin49"] + transl[:, None]
    return {"frames": root / "seq_0000" / "frames", "keypoints": pixels, "spin49": project(spin49, FOCAL, centre).numpy(),
            "world": (landmarks - landmarks.mean(dim=1, keepdim=True)).numpy()}


class TrueKeypoints:
    """A detector stub: the true body's landmarks (visibility 0.9), world landmarks and box."""

    def __init__(self, truth: dict) -> None:
        self.truth = truth

    def __call__(self, frame) -> FramePeople:
        points = self.truth["keypoints"][frame.index]
        box = np.concatenate([points.min(0) - 5, points.max(0) + 5])
        keypoints = np.concatenate([points, np.full((33, 1), 0.9)], axis=1)
        return FramePeople(box[None], keypoints[None], np.array([0.9]), self.truth["world"][frame.index][None])

    def finish(self, frame_indices) -> None:
        pass


def tiny_tar(body):
    from staf.models.tar import TARConfig

    config = TARConfig(backbone="resnet18", image_size=64, seq_len=5, local_window=3, local_channels=8, gte_width=32,
                       gte_heads=2, gte_feedforward=64, hidden=8, regressor_width=8, iterations=2, local_dim=16)
    return build_model("tar", config, body)


@pytest.mark.parametrize("start", ["staf", "tar", "mean-pose"])
def test_refine_stage_moves_bodies_onto_the_keypoints_and_keeps_the_network(truth, body, tiny_staf_config, tmp_path,
                                                                             start):
    torch.manual_seed(0)
    model = {"staf": lambda: build_model("staf", tiny_staf_config, body), "tar": lambda: tiny_tar(body),
             "mean-pose": lambda: load("mean-pose").model}[start]().eval()
    outputs = {}
    for refine in (False, True):
        config = DemoConfig(render=False, min_track_length=3, refine=refine, formats=("pkl",))
        run_demo(truth["frames"], tmp_path / str(refine), model, CropRule(), config, detector=TrueKeypoints(truth),
                 progress=False)
        outputs[refine] = joblib.load(tmp_path / str(refine) / "staf_output.pkl")[0]
    network, refined = outputs[False], outputs[True]
    for key in NETWORK_KEYS:                               # the network's own bodies, exactly as without the stage
        np.testing.assert_allclose(refined[f"{key}_network"], network[key], rtol=1e-5, atol=1e-5, err_msg=key)
        assert f"{key}_network" not in network
    limbs = [2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14]    # SPIN-49's OpenPose limb joints
    error = {name: np.linalg.norm(track["joints2d"][:, limbs] - truth["spin49"][:, limbs], axis=-1).mean()
             for name, track in (("network", network), ("refined", refined))}
    height = np.ptp(truth["keypoints"][..., 1], axis=1).mean()          # the person's height in pixels
    # measured: STAF 29.9 → 6.6 px, TAR 15.8 → 3.2, mean pose 15.7 → 3.2 of an 87-px person (random tiny networks)
    assert error["refined"] < 0.1 * height, (error, height)
    assert error["refined"] < 0.3 * error["network"], error
    assert np.abs(refined["transl"][:, 2] - 4.0).max() < 1.0, refined["transl"][:, 2]   # depth near the true 4 m
    assert not np.allclose(refined["pose"], network["pose"])
