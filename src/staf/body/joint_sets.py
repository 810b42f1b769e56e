"""Joint sets and their conventions.

Everything here is a *definition* shared by the SMPL files and the bundled open body model:

- the 24 SMPL skeleton joints, their names and kinematic tree (``SMPL_PARENTS``);
- the 21 mesh-vertex keypoints that the ``smplx`` package appends to SMPL's joints
  (face, feet, finger tips) in the order of its ``VertexJointSelector``;
- the 49-joint SPIN/VIBE keypoint set (25 OpenPose joints followed by 24 "ground-truth"
  joints), obtained from a 54-joint array ``[24 SMPL joints, 21 vertex joints,
  9 J_regressor_extra joints]`` by :data:`SPIN49_FROM_54`;
- the Human3.6M 17-joint evaluation set (order of ``J_regressor_h36m.npy``) and the 14 LSP
  joints taken from it by :data:`H36M_TO_LSP14`, as SPIN/VIBE/TCMR/STAF evaluate 3DPW.
"""

from __future__ import annotations

SMPL_JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck",
    "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand", "right_hand",
)

#: Parent of each SMPL joint (-1 for the root), the second row of SMPL's ``kintree_table``.
SMPL_PARENTS: tuple[int, ...] = (
    -1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21,
)

NUM_SMPL_JOINTS = 24

#: Names of the 21 vertex keypoints in smplx's ``VertexJointSelector`` order
#: (5 face, 6 feet, 5 left finger tips, 5 right finger tips).
VERTEX_KEYPOINT_NAMES: tuple[str, ...] = (
    "nose", "reye", "leye", "rear", "lear",
    "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel",
    "lthumb", "lindex", "lmiddle", "lring", "lpinky",
    "rthumb", "rindex", "rmiddle", "rring", "rpinky",
)

#: Vertex indices of those keypoints on SMPL's 6890-vertex mesh (smplx ``vertex_ids['smplh']``;
#: SMPL and SMPL+H share the body topology).
SMPL_VERTEX_KEYPOINT_IDS: tuple[int, ...] = (
    332, 6260, 2800, 4071, 583,
    3216, 3226, 3387, 6617, 6624, 6787,
    2746, 2319, 2445, 2556, 2673,
    6191, 5782, 5905, 6016, 6133,
)

#: Rows of SPIN's ``J_regressor_extra.npy`` (9 joints regressed from the posed mesh).
EXTRA_JOINT_NAMES: tuple[str, ...] = (
    "Right Hip", "Left Hip", "Neck (LSP)", "Top of Head (LSP)", "Pelvis (MPII)",
    "Thorax (MPII)", "Spine (H36M)", "Jaw (H36M)", "Head (H36M)",
)

SPIN49_JOINT_NAMES: tuple[str, ...] = (
    # 25 OpenPose joints
    "OP Nose", "OP Neck", "OP RShoulder", "OP RElbow", "OP RWrist", "OP LShoulder",
    "OP LElbow", "OP LWrist", "OP MidHip", "OP RHip", "OP RKnee", "OP RAnkle", "OP LHip",
    "OP LKnee", "OP LAnkle", "OP REye", "OP LEye", "OP REar", "OP LEar", "OP LBigToe",
    "OP LSmallToe", "OP LHeel", "OP RBigToe", "OP RSmallToe", "OP RHeel",
    # 24 ground-truth joints (superset of the datasets' joints)
    "Right Ankle", "Right Knee", "Right Hip", "Left Hip", "Left Knee", "Left Ankle",
    "Right Wrist", "Right Elbow", "Right Shoulder", "Left Shoulder", "Left Elbow",
    "Left Wrist", "Neck (LSP)", "Top of Head (LSP)", "Pelvis (MPII)", "Thorax (MPII)",
    "Spine (H36M)", "Jaw (H36M)", "Head (H36M)", "Nose", "Left Eye", "Right Eye",
    "Left Ear", "Right Ear",
)

#: The 54-joint array ``[SMPL 24, vertex 21, extra 9]`` (:meth:`staf.body.BodyModel.joints54`),
#: which SMPL and the open model both provide.
ALL54_NAMES: tuple[str, ...] = SMPL_JOINT_NAMES + VERTEX_KEYPOINT_NAMES + EXTRA_JOINT_NAMES

#: Index into the 54-joint array ``[SMPL 24, vertex 21, extra 9]`` of each SPIN-49 joint
#: (SPIN's ``JOINT_MAP`` applied to ``JOINT_NAMES``).
SPIN49_FROM_54: tuple[int, ...] = (
    24, 12, 17, 19, 21, 16, 18, 20, 0, 2, 5, 8, 1, 4, 7, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34,
    8, 5, 45, 46, 4, 7, 21, 19, 17, 16, 18, 20, 47, 48, 49, 50, 51, 52, 53, 24, 26, 25, 28, 27,
)

#: The 14 LSP joints are SPIN-49 joints 25..38 (the one definition staf uses: losses,
#: protocols, training data, previews).
SPIN49_LSP14 = slice(25, 39)
#: the same as indices
LSP14_FROM_SPIN49: tuple[int, ...] = tuple(range(SPIN49_LSP14.start, SPIN49_LSP14.stop))

#: Rows of the field's ``J_regressor_h36m.npy``, named by the body side each row sits on. The
#: legs come left first: SPIN/VIBE/TCMR/STAF's ``H36M_TO_J17`` (below) sends row 6 to the
#: "Right Ankle" slot and row 3 to "Left Ankle", so rows 1–3 are the left leg and 4–6 the right
#: (the arms are the other way round: 11–13 left, 14–16 right).
H36M17_JOINT_NAMES: tuple[str, ...] = (
    "Pelvis", "L_Hip", "L_Knee", "L_Ankle", "R_Hip", "R_Knee", "R_Ankle", "Spine",
    "Thorax", "Neck/Nose", "Head", "L_Shoulder", "L_Elbow", "L_Wrist", "R_Shoulder",
    "R_Elbow", "R_Wrist",
)

#: H36M-17 → the common 17-joint order used by SPIN/VIBE (``H36M_TO_J17``); its first 14
#: entries are the LSP-14 joints.
H36M_TO_J17: tuple[int, ...] = (6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10, 0, 7, 9)
H36M_TO_LSP14: tuple[int, ...] = H36M_TO_J17[:14]

LSP14_JOINT_NAMES: tuple[str, ...] = (
    "Right Ankle", "Right Knee", "Right Hip", "Left Hip", "Left Knee", "Left Ankle",
    "Right Wrist", "Right Elbow", "Right Shoulder", "Left Shoulder", "Left Elbow",
    "Left Wrist", "Neck", "Top of Head",
)
#: Indices of the two hips in LSP-14 (their mid-point is the pelvis used for centring).
LSP14_HIPS: tuple[int, int] = (2, 3)
