"""Synthetic data: motion limits and smoothness, renderer/projection agreement, ground-truth
consistency, determinism, resuming."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from staf.body import BodyModel
from staf.cli import main
from staf.data.db import read_db
from staf.data.synthetic import FAMILIES, SynthConfig, generate_motion, synthesize
from staf.data.synthetic.generator import backdrop_shifts, project, sequence_truth
from staf.data.synthetic.scene import camera_path
from staf.data.synthetic.joint_limits import limits_array, within_limits
from staf.errors import StafError


@pytest.mark.parametrize("family", FAMILIES)
def test_motion_stays_within_limits_and_is_smooth(family):
    for seed in range(4):
        motion = generate_motion(np.random.default_rng(seed), 90, 30.0, family)
        assert within_limits(motion.pose)[:, 1:].all()
        # continuous velocity and bounded acceleration: at most 0.06 rad/frame² (54 rad/s²) per joint axis
        acceleration = np.abs(np.diff(motion.pose[:, 1:], n=2, axis=0))
        assert acceleration.max() < 0.06, (family, seed, acceleration.max())
        assert np.abs(np.diff(motion.translation, n=2, axis=0)).max() < 0.01
        assert np.ptp(motion.pose[:, 1:], axis=0).max() > 0.1  # it moves


def test_limits_table_covers_every_joint_with_ordered_bounds():
    limits = limits_array()
    assert limits.shape == (24, 3, 2) and (limits[..., 0] < limits[..., 1]).all()


@pytest.fixture(scope="module")
def body() -> BodyModel:
    return BodyModel.load(dtype=torch.float64)


def test_camera_frame_ground_truth_is_the_body_model_output(body):
    config = SynthConfig(frames=12, size=128)
    truth, _ = sequence_truth(config, np.random.default_rng([5, 0]), body)
    out = body(torch.tensor(truth.pose), torch.tensor(truth.betas)[None].expand(12, -1), torch.tensor(truth.transl))
    assert np.abs(out.vertices.numpy() - truth.vertices).max() < 1e-7  # rotation-vector round trip
    # regressor rows stored in float32 sum to 1 ± 1e-7: a few metres of translation move them by ~1 µm
    assert np.abs(out.joint_sets["spin49"].numpy() - truth.joints_spin49).max() < 1e-5
    assert (truth.vertices[..., 2] > 0.5).all()  # in front of the camera


def test_rendering_agrees_with_the_projection(body):
    import cv2

    from staf.render import MeshRenderer

    config = SynthConfig(frames=6, size=224)
    renderer = MeshRenderer(224, 224, body.faces.numpy())
    checked = 0
    for seed in range(3):
        truth, _ = sequence_truth(config, np.random.default_rng([seed, 1]), body)
        for frame in (0, 5):
            vertices = truth.vertices[frame]
            result = renderer.render(vertices, np.full_like(vertices, 0.6), truth.camera.intrinsics)
            uv = project(vertices, truth.camera.intrinsics)
            pixel = np.round(uv).astype(int)
            on_image = (pixel >= 0).all(1) & (pixel < 224).all(1)
            if on_image.mean() < 0.999:
                continue
            # visible = not behind other geometry (depth test against the rendered depth)
            visible = vertices[:, 2] <= result.depth[pixel[:, 1], pixel[:, 0]] + 0.02
            # the silhouette follows OpenGL's pixel-centre rule, so a vertex exactly on its edge may
            # round to an uncovered pixel: inside = the mask covers its pixel or a neighbour
            near_mask = cv2.dilate(result.mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
            assert near_mask[pixel[visible, 1], pixel[visible, 0]].mean() >= 0.99
            ys, xs = np.nonzero(result.mask)
            mask_box = np.array([xs.min(), ys.min(), xs.max(), ys.max()])
            vertex_box = np.concatenate([uv.min(0), uv.max(0)])
            assert np.abs(mask_box - vertex_box).max() <= 2.0
            checked += 1
    renderer.release()
    assert checked >= 3


@pytest.mark.parametrize("seed", [0, 3, 5, 8])
def test_the_backdrop_moves_as_a_distant_point_does(seed):
    """A panning camera's backdrop shift equals the motion in the image of a point 1 km ahead of
    the first camera (within 1.5 px; the shift is a picture's, so not exact), whichever way the
    camera turns (seeds 0 and 3 turn it one way, 5 and 8 the other; 37–103 px)."""
    frames = 90
    subject = np.stack([np.linspace(0, 1.5, frames), np.full(frames, 0.9), np.zeros(frames)], axis=1)
    camera = camera_path(np.random.default_rng(seed), 320, subject, 30.0, path="pan")
    rotation, shift = camera.rotations, camera.translations
    far = -rotation[0].T @ shift[0] + 1000.0 * rotation[0][2]
    seen = np.einsum("ij,tj->ti", camera.intrinsics, np.einsum("tij,j->ti", rotation, far) + shift)
    moved = seen[:, :2] / seen[:, 2:] - seen[0, :2] / seen[0, 2]
    assert np.abs(moved[-1, 0]) > 30                                       # the camera does turn
    assert np.abs(backdrop_shifts(camera) - moved).max() < 1.5


def test_a_tracking_camera_walks_beside_the_subject_without_turning():
    """``track``: the camera keeps its offset from the (smoothed) walker: it does not turn, it
    walks as far as the walker, and the walker stays near one place in its frame; the default
    draw never picks it (the old random stream is kept)."""
    frames = 120
    subject = np.stack([np.linspace(0, 4, frames), np.full(frames, 0.9), np.linspace(0, 1, frames)], axis=1)
    camera = camera_path(np.random.default_rng(2), 320, subject, 30.0, path="track")
    rotation, shift = camera.rotations, camera.translations
    assert np.abs(rotation - rotation[0]).max() < 1e-9
    eye = -np.einsum("tji,tj->ti", rotation, shift)
    assert np.linalg.norm(eye[-1] - eye[0]) > 3.5
    seen = np.einsum("tij,tj->ti", rotation, subject) + shift
    assert np.linalg.norm(seen - seen[0], axis=1).max() < 0.6                # the smoothing's lag only
    drawn = {camera_path(np.random.default_rng(seed), 320, subject, 30.0).path for seed in range(40)}
    assert drawn == {"pan", "dolly"}


def test_same_seed_same_ground_truth_other_seed_differs(tmp_path):
    config = SynthConfig(sequences=2, frames=6, size=96, crop_size=64, seed=7)
    first = read_db(synthesize(config, tmp_path / "a", progress=False))
    second = read_db(synthesize(config, tmp_path / "b", progress=False))
    other = read_db(synthesize(SynthConfig(sequences=2, frames=6, size=96, crop_size=64, seed=8), tmp_path / "c",
                               progress=False))
    for key in ("pose", "shape", "joints3D", "joints2D", "bbox", "cam_extrinsics", "valid"):
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)
        assert not np.array_equal(first[key], other[key]) or key == "valid"
    assert first["joints3D"].shape == (12, 49, 3) and first["joints3D_smpl24"].shape == (12, 24, 3)


def test_crop_coordinates_and_images_match(tmp_path):
    import cv2

    database = synthesize(SynthConfig(sequences=1, frames=4, size=128, crop_size=96, seed=3), tmp_path, progress=False)
    data = read_db(database)
    frame = cv2.imread(str(tmp_path / data["img_name"][0]))
    crop = cv2.imread(str(tmp_path / data["crop_name"][0]))
    assert frame.shape == (128, 128, 3) and crop.shape == (96, 96, 3)
    cx, cy, side = data["crop_box"][0]
    expected = (data["joints2D"][0, :, :2] - [cx, cy]) * 96 / side + 48
    assert np.abs(data["joints2D_crop"][0, :, :2] - expected).max() < 1e-9


def test_interrupted_runs_resume_and_settings_are_checked(tmp_path):
    config = SynthConfig(sequences=2, frames=5, size=96, crop_size=64, seed=11)
    synthesize(config, tmp_path, progress=False)
    kept = (tmp_path / "seq_0001" / "gt.npz").stat().st_mtime_ns
    (tmp_path / "seq_0000" / "done").unlink()  # as if interrupted while writing sequence 0
    bigger = SynthConfig(sequences=3, frames=5, size=96, crop_size=64, seed=11)
    data = read_db(synthesize(bigger, tmp_path, progress=False))
    assert (tmp_path / "seq_0001" / "gt.npz").stat().st_mtime_ns == kept
    assert sorted(set(data["vid_name"].tolist())) == ["seq_0000", "seq_0001", "seq_0002"]
    with pytest.raises(StafError, match="other settings \\(frames\\)"):
        synthesize(SynthConfig(sequences=3, frames=6, size=96, crop_size=64, seed=11), tmp_path, progress=False)
    with pytest.raises(StafError, match="other settings \\(background_clutter_probability\\)"):
        synthesize(SynthConfig(sequences=3, frames=5, size=96, crop_size=64, seed=11,
                               background_clutter_probability=1.0), tmp_path, progress=False)


def test_a_folder_made_before_a_setting_existed_resumes_with_its_default(tmp_path):
    import json

    config = SynthConfig(sequences=1, frames=3, size=64, crop_size=32, seed=3)
    synthesize(config, tmp_path, progress=False)
    recorded = json.loads((tmp_path / "synth_config.json").read_text())
    del recorded["background_clutter_probability"]            # as written by an older staf
    (tmp_path / "synth_config.json").write_text(json.dumps(recorded))
    synthesize(SynthConfig(sequences=2, frames=3, size=64, crop_size=32, seed=3), tmp_path, progress=False)
    assert (tmp_path / "seq_0001" / "done").is_file()
    with pytest.raises(StafError, match="other settings \\(background_clutter_probability\\)"):
        synthesize(SynthConfig(sequences=2, frames=3, size=64, crop_size=32, seed=3,
                               background_clutter_probability=0.5), tmp_path, progress=False)


def test_cli_synth_with_preview(tmp_path, capsys):
    assert main(["synth", "--out", str(tmp_path), "--sequences", "2", "--frames", "4", "--size", "96",
                 "--crop-size", "64", "--preview"]) == 0
    assert (tmp_path / "preview.png").is_file() and (tmp_path / "synth_train_db.pt").is_file()
    assert main(["synth", "--out", str(tmp_path / "x"), "--preset", "missing-preset"]) == 2
    assert "unknown preset" in capsys.readouterr().err


def test_a_failed_image_write_is_an_error_and_nothing_is_marked_done(tmp_path, monkeypatch):
    import cv2

    from staf.errors import StafError

    calls = {"n": 0}
    original = cv2.imencode

    def failing(*args, **kwargs):
        calls["n"] += 1
        return (False, None) if calls["n"] == 5 else original(*args, **kwargs)

    monkeypatch.setattr(cv2, "imencode", failing)
    with pytest.raises(StafError, match="could not encode"):
        synthesize(SynthConfig(sequences=1, frames=4, size=64, crop_size=64, seed=1), tmp_path / "s", progress=False)
    folder = tmp_path / "s" / "seq_0000"
    assert not (folder / "done").exists() and not (folder / "gt.npz").exists()
    assert not [p for p in folder.rglob("*") if "partial" in p.name]


def _without_and_with(folder, seed: int, frames: int, **element) -> dict:
    """Two sequences made without (``folder/plain``) and with (``folder/with``) an optional scene
    element; asserts that their labels are equal (the element's own random stream) and returns
    the db rows."""
    settings = dict(sequences=2, frames=frames, size=128, crop_size=64, seed=seed, occluder_probability=0.0)
    plain = read_db(synthesize(SynthConfig(**settings), folder / "plain", progress=False))
    other = read_db(synthesize(SynthConfig(**settings, **element), folder / "with", progress=False))
    for key in ("joints3D", "joints2D", "pose", "shape", "bbox", "crop_box", "valid"):
        np.testing.assert_array_equal(plain[key], other[key], err_msg=key)
    return plain


def test_background_people_change_the_pixels_not_the_labels(tmp_path):
    """People behind the person: the same labels as without them (their own random stream),
    and other pixels around the person."""
    import cv2

    a = _without_and_with(tmp_path, 11, 4, background_people_probability=1.0, max_background_people=2)
    changed = []
    for name in a["img_name"]:
        first = cv2.imread(str(tmp_path / "plain" / name)).astype(int)
        second = cv2.imread(str(tmp_path / "with" / name)).astype(int)
        changed.append((np.abs(first - second).sum(-1) > 60).mean())
    assert np.mean(changed) > 0.01                    # other people are drawn


def test_background_clutter_changes_the_backdrop_not_the_labels(tmp_path):
    """Clutter (its own random stream): the same labels as without it, and a backdrop with more
    fine detail (mean absolute Laplacian off the person's box)."""
    import cv2

    a = _without_and_with(tmp_path, 5, 3, background_clutter_probability=1.0)
    detail = {"plain": [], "with": []}
    for name, box in zip(a["img_name"], a["bbox"]):
        images = {arm: cv2.imread(str(tmp_path / arm / name)) for arm in detail}
        off_person = np.ones(images["plain"].shape[:2], dtype=bool)
        (cx, cy), (w, h) = box[:2], box[2:] * 0.6 + 4
        off_person[max(0, int(cy - h)):int(cy + h), max(0, int(cx - w)):int(cx + w)] = False
        for arm, image in images.items():
            grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float64)
            detail[arm].append(np.abs(cv2.Laplacian(grey, cv2.CV_64F))[off_person].mean())
    assert np.mean(detail["with"]) > 1.5 * np.mean(detail["plain"])


def test_the_floor_is_the_ground_plane_seen_in_perspective():
    """The floor (:mod:`staf.data.synthetic.floor`): a texture pixel's world point on y = 0,
    projected by K [R | t], is where the homography puts it (1e-9 px); the floor covers the
    image below the horizon near the camera, nothing above it, and fades out far away."""
    from staf.data.synthetic.floor import FADE_END, HALF_EXTENT, RESOLUTION, random_floor
    from staf.data.synthetic.scene import intrinsics_for, look_at

    floor = random_floor(np.random.default_rng(4), np.array([1.0, -2.0]))
    intrinsics = intrinsics_for(160, 50.0)
    extrinsics = look_at(np.array([0.5, 1.5, 3.0]), np.array([1.0, 1.42, -2.0]))
    rotation, shift = extrinsics[:3, :3], extrinsics[:3, 3]
    texture_pixels = np.array([[700.0, 800.0], [760.5, 790.0], [650.0, 900.0]])
    world = np.stack([1.0 - HALF_EXTENT + texture_pixels[:, 0] * RESOLUTION, np.zeros(3),
                      -2.0 - HALF_EXTENT + texture_pixels[:, 1] * RESOLUTION], 1)
    camera = world @ rotation.T + shift
    expected = camera[:, :2] / camera[:, 2:] * intrinsics[[0, 1], [0, 1]] + intrinsics[:2, 2]
    mapped = np.c_[texture_pixels, np.ones(3)] @ floor.homography(intrinsics, rotation, shift).T
    assert np.abs(mapped[:, :2] / mapped[:, 2:] - expected).max() < 1e-9
    weight = floor.weight(intrinsics, rotation, shift, 160)
    assert weight[-1].min() == 1.0 and weight[0].max() == 0.0            # the bottom row is floor, the top sky
    centre_ray = np.linalg.inv(intrinsics) @ [79.5, 79.5, 1.0] @ rotation           # looks slightly down
    reach = 1.5 / -centre_ray[1] * np.linalg.norm(centre_ray[[0, 2]])
    assert reach > FADE_END and weight[80, 80] == 0.0                   # the centre meets the floor beyond the fade
    assert (np.diff(weight[:, 80]) >= 0).all() and ((weight[:, 80] > 0) & (weight[:, 80] < 1)).any()  # a fade
    drawn = floor.draw(np.zeros((160, 160, 3), np.uint8), intrinsics, rotation, shift)
    assert drawn[:10].max() == 0 and drawn[-10:].mean() > 20


def test_a_floor_changes_the_backdrop_not_the_labels(tmp_path):
    """A floor (its own random stream): the same labels as without it, other pixels at the feet."""
    import cv2

    a = _without_and_with(tmp_path, 7, 3, floor_probability=1.0)
    for name, box in zip(a["img_name"], a["bbox"]):
        first, second = (cv2.imread(str(tmp_path / arm / name)).astype(int) for arm in ("plain", "with"))
        below_feet = slice(int(min(box[1] + box[3] / 2 + 2, 127)), 128)
        assert (np.abs(first - second).sum(-1)[below_feet] > 30).mean() > 0.3
    with pytest.raises(StafError, match="floor_probability"):
        SynthConfig(floor_probability=1.5)


def _quad_facing_the_camera():
    """Two triangles at z = 2 m covering pixels ≈ 39–89 of a 128 px image, normals towards the camera."""
    vertices = np.array([[-0.5, -0.5, 2.0], [-0.5, 0.5, 2.0], [0.5, 0.5, 2.0], [0.5, -0.5, 2.0]])
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    intrinsics = np.array([[100.0, 0, 64], [0, 100.0, 64], [0, 0, 1]])
    return vertices, faces, intrinsics


@pytest.mark.parametrize("light", [
    dict(),                                                            # the original white two-sided light
    dict(direction=(0.0, 0.0, 1.0), two_sided=False),                 # key behind: ambient only
    dict(direction=(0.0, 0.0, 1.0), two_sided=True),                  # two-sided: lit all the same
    dict(direction=(0.5, -0.2, -1.0), colour=(1.0, 0.8, 0.6), two_sided=False, ambient=0.2, diffuse=0.9,
         fill_direction=(-1.0, 0.3, -0.5), fill=0.3),
    dict(direction=(0.2, 0.1, -1.0), two_sided=False, fill_direction=(0.0, 0.0, 1.0), fill=0.4),  # fill behind
])
def test_shading_matches_a_float64_recomputation(light):
    """The fragment shader's lighting against the formula of :class:`Lighting`, on a flat quad."""
    from staf.render import Lighting, MeshRenderer

    vertices, faces, intrinsics = _quad_facing_the_camera()
    lighting = Lighting(**light)
    colour = np.array([0.5, 0.4, 0.3])
    renderer = MeshRenderer(128, 128, faces)
    result = renderer.render(vertices, np.tile(colour, (4, 1)), intrinsics, None, lighting)
    renderer.release()
    normal = np.array([0.0, 0.0, -1.0])
    facing = normal @ (np.array(lighting.direction) / np.linalg.norm(lighting.direction))
    key = abs(facing) if lighting.two_sided else max(facing, 0.0)
    fill = max(normal @ (np.array(lighting.fill_direction) / np.linalg.norm(lighting.fill_direction)), 0.0)
    expected = np.clip(colour * (lighting.ambient + lighting.diffuse * key * np.array(lighting.colour)
                                 + lighting.fill * fill), 0, 1) * 255
    inside = result.rgb[45:84, 45:84].reshape(-1, 3).astype(float)
    assert result.mask[45:84, 45:84].all()
    assert np.abs(inside - expected).max() <= 1.0, (inside.mean(0), expected)


def test_a_one_sided_key_light_leaves_the_far_side_in_shade(body):
    """The body facing the camera, lit from the camera and from behind: two-sided the two look
    alike; one-sided the front lit from behind falls to the ambient light (outward normals)."""
    from staf.render import Lighting, MeshRenderer

    rotation = np.diag([1.0, -1.0, -1.0])            # the body's y up, facing +z → the camera's y down, facing it
    with torch.no_grad():
        rest = body(torch.zeros(1, 72, dtype=torch.float64), torch.zeros(1, 10, dtype=torch.float64))
    vertices = rest.vertices[0].numpy() @ rotation.T + np.array([0.0, 0.0, 3.0])
    intrinsics = np.array([[150.0, 0, 64], [0, 150.0, 64], [0, 0, 1]])
    renderer = MeshRenderer(128, 128, body.faces.numpy())
    grey = np.full_like(vertices, 0.8)

    def brightness(**light) -> float:
        result = renderer.render(vertices, grey, intrinsics, None, Lighting(ambient=0.2, diffuse=0.7, **light))
        return float(result.rgb[result.mask].mean())

    front, behind = (0.0, 0.0, -1.0), (0.0, 0.0, 1.0)
    two_sided = brightness(direction=front), brightness(direction=behind)
    one_sided = brightness(direction=front, two_sided=False), brightness(direction=behind, two_sided=False)
    renderer.release()
    assert abs(two_sided[0] - two_sided[1]) < 1.0
    assert abs(one_sided[0] - two_sided[0]) < 1.0     # lit from the front, the visible side faces the light
    ambient_only = 0.8 * 0.2 * 255
    assert one_sided[1] < ambient_only + 6 < one_sided[0] - 60, one_sided


def test_varied_lighting_changes_the_people_not_the_labels(tmp_path):
    """Varied lighting (its own random stream): the same labels and the same backdrop as without it,
    other colours on the person."""
    import cv2

    a = _without_and_with(tmp_path, 9, 3, lighting_variation_probability=1.0)
    on_person, off_person = [], []
    for name, box in zip(a["img_name"], a["bbox"]):
        first, second = (cv2.imread(str(tmp_path / arm / name)).astype(int) for arm in ("plain", "with"))
        difference = np.abs(first - second).sum(-1)
        (cx, cy), (w, h) = box[:2], box[2:]
        inside = np.zeros(difference.shape, dtype=bool)
        inside[max(0, int(cy - h / 4)):int(cy + h / 4), max(0, int(cx - w / 6)):int(cx + w / 6)] = True
        # the JPEG blocks (16 px) the box does not touch, less the pixel next to them that the decoder's
        # chroma upsampling blends with them
        outside = np.ones(difference.shape, dtype=bool)
        top, left = (int(np.floor((c - e / 2 - 1) / 16)) * 16 - 2 for c, e in ((cy, h), (cx, w)))
        bottom, right = (int(np.ceil((c + e / 2 + 1) / 16)) * 16 + 2 for c, e in ((cy, h), (cx, w)))
        outside[max(0, top):bottom, max(0, left):right] = False
        on_person.append(difference[inside].mean())
        off_person.append(difference[outside].mean() if outside.any() else 0.0)
    assert np.mean(on_person) > 20                    # the light on the person changed
    assert max(off_person) == 0                       # the backdrop did not
