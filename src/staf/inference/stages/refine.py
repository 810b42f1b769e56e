"""Stage ``refine`` (``--refine``): each record's bodies fitted to the detector's keypoints and
world landmarks (:mod:`staf.inference.refine`), starting from the network's prediction.

The refined bodies replace ``record.prediction`` (placed in the image by
:class:`~staf.geometry.cameras.CliffCamera`: a rigid translation in the frame's pinhole camera);
the network's own stay in ``record.network`` and are exported under ``*_network`` keys. Records
without any keypoints (boxes from a file) keep the network's bodies."""

from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from staf.body.landmarks import LandmarkMap
from staf.geometry.cameras import CliffCamera, cliff_cam_from_translation, crop_to_image_points, image_to_crop_points
from staf.geometry.rotations import matrix_to_axis_angle, matrix_to_rot6d
from staf.inference.record import PersonTrack
from staf.inference.refine import BodyState, Observations, RefineConfig, box_longer_sides, project, refine_track
from staf.models.base import BodyPrediction


class RefineStage:
    name = "refine"

    def __init__(self, landmark_map: LandmarkMap | None = None) -> None:
        self.landmark_map = landmark_map
        #: the last run's fit report per track id (terms before and after, frames turned round)
        self.reports: dict[int, dict | None] = {}

    def enabled(self, config) -> bool:
        return bool(getattr(config, "refine", False))

    def __call__(self, records: list[PersonTrack], context) -> list[PersonTrack]:
        settings = getattr(context.config, "refine_settings", None) or RefineConfig()
        landmark_map = self.landmark_map or LandmarkMap.shipped()
        self.reports = {}
        for record in tqdm(records, unit="track", desc="refine", disable=not context.progress):
            self.reports[record.track_id] = refine_record(record, context.model, landmark_map, settings,
                                                          context.image_size, context.focal)
        return records


def refine_record(record: PersonTrack, model, landmark_map: LandmarkMap, settings: RefineConfig,
                  image_size: tuple[int, int], focal: float) -> dict | None:
    """Refine one record in place (module docstring) → the fit's report, or None when it has no keypoints."""
    keypoints = torch.as_tensor(record.keypoints, dtype=torch.float32)
    if not torch.isfinite(keypoints).all(dim=(1, 2)).any():
        return None
    prediction, camera = record.prediction, record.camera or model.camera
    boxes = record.geometry.boxes
    start = BodyState(prediction.rotmat, prediction.betas,
                      camera.translation(prediction.cam, boxes, image_size, focal).float())
    observed = Observations(keypoints, torch.as_tensor(record.world_landmarks, dtype=torch.float32),
                            torch.as_tensor(box_longer_sides(record.boxes), dtype=torch.float32), image_size, focal)
    refined, report = refine_track(model.body, landmark_map, start, observed, settings)
    record.network, record.network_camera = prediction, record.camera
    record.prediction = refined_prediction(model.body, refined, boxes, image_size, focal)
    record.camera = CliffCamera()
    return report


def refined_prediction(body, state: BodyState, boxes: torch.Tensor, image_size: tuple[int, int] | torch.Tensor,
                       focal: float | torch.Tensor) -> BodyPrediction:
    """The refined bodies as a :class:`BodyPrediction` (float32 CPU): meshes and joint sets from
    the body model, the crop camera that :class:`CliffCamera` maps to the fitted translation, and
    2D joints projected by the pinhole camera (in normalised crop coordinates, as the network's).
    ``image_size`` (W, H) or (N, 2), ``focal`` a number or (N,): per video, or per still image."""
    count = len(state.rotmat)
    device = body.v_template.device
    with torch.no_grad():
        output = body(state.rotmat.to(device), state.betas.to(device))
    size = torch.as_tensor(image_size, dtype=torch.float32).reshape(-1, 2).expand(count, 2)
    focal = torch.as_tensor(focal, dtype=torch.float32).reshape(-1).expand(count)
    cam = cliff_cam_from_translation(state.transl.float(), boxes.float(), size, focal)

    def to_crop(points: torch.Tensor) -> torch.Tensor:
        pixels = project(points.float().cpu() + state.transl.float()[:, None], focal.reshape(-1, 1, 1), size / 2.0)
        return image_to_crop_points(pixels, boxes.float())

    joint_sets = {name: value.float().cpu() for name, value in output.joint_sets.items()}
    joints = output.joints.float().cpu()
    return BodyPrediction(
        pose_6d=matrix_to_rot6d(state.rotmat.float()).reshape(count, -1), rotmat=state.rotmat.float(),
        pose=matrix_to_axis_angle(state.rotmat.float()).reshape(count, -1), betas=state.betas.float(), cam=cam,
        vertices=output.vertices.float().cpu(), joints=joints, joint_sets=joint_sets,
        joints2d={"smpl24": to_crop(joints), **{name: to_crop(value) for name, value in joint_sets.items()}})


def network_arrays(record: PersonTrack, camera, image_size: tuple[int, int], focal: float) -> dict[str, np.ndarray]:
    """The network's own bodies of a refined record, under ``*_network`` keys."""
    network, boxes = record.network, record.geometry.boxes
    joint_set = "spin49" if "spin49" in network.joint_sets else None
    camera = record.network_camera or camera
    return {
        "pose_network": network.pose.numpy(), "betas_network": network.betas.numpy(),
        "rotmat_network": network.rotmat.numpy(), "pred_cam_network": network.cam.numpy(),
        "transl_network": camera.translation(network.cam, boxes, image_size, focal).numpy(),
        "joints3d_network": (network.joint_sets[joint_set] if joint_set else network.joints).numpy(),
        "joints2d_network": crop_to_image_points(network.joints2d[joint_set or "smpl24"], boxes).numpy(),
    }
