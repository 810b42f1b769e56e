"""The K = 26 body markers whose projections the RRM samples (TAR §3.3.1, "K markers are sampled
from the SMPL mesh", after ReFit's surface markers).

ReFit ships a marker list for SMPL's topology only; staf derives its markers from any body model
by one rule, so the open model and SMPL both get a set: for each of the 24 joints, the template
vertex nearest to the joint among the vertices that joint's skinning weight dominates (a surface
point on that body part), then the top of the head and the most forward point of the head (the
vertices of the head part with the largest y and the largest z). Returns vertex indices (26,).
"""

from __future__ import annotations

import torch

from staf.body import BodyModel

HEAD_JOINT = 15
NUM_MARKERS = 26


def marker_vertices(body: BodyModel) -> torch.Tensor:
    """(26,) vertex indices of the markers of ``body`` (deterministic, on the CPU)."""
    template = body.v_template.detach().double().cpu()
    joints = body.j_regressor.detach().double().cpu() @ template
    dominant = body.weights.detach().cpu().argmax(dim=1)
    chosen = []
    for joint in range(joints.shape[0]):
        candidates = torch.nonzero(dominant == joint).flatten()
        if len(candidates) == 0:
            candidates = torch.arange(len(template))
        distance = (template[candidates] - joints[joint]).norm(dim=1)
        chosen.append(int(candidates[distance.argmin()]))
    head = torch.nonzero(dominant == HEAD_JOINT).flatten()
    chosen.append(int(head[template[head, 1].argmax()]))
    chosen.append(int(head[template[head, 2].argmax()]))
    return torch.tensor(chosen, dtype=torch.long)
