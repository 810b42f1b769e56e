"""Streaming inference equals the naive window-by-window computation, edges included."""

from __future__ import annotations

import pytest
import torch

from staf.body import BodyModel
from staf.models.base import window_indices
from staf.models.staf.streaming import StreamingRunner, naive_sequence
from staf.models import STAF, STAFConfig


def test_window_indices_repeat_the_edge_frames():
    windows = window_indices(6, 5)
    assert windows[0].tolist() == [0, 0, 0, 1, 2]
    assert windows[3].tolist() == [1, 2, 3, 4, 5]
    assert windows[5].tolist() == [3, 4, 5, 5, 5]


@pytest.fixture(scope="module")
def body() -> BodyModel:
    return BodyModel.load()


@pytest.mark.parametrize("variant", ["staf", "base", "base+apm", "base+stf"])
def test_streaming_equals_naive_on_a_30_frame_sequence(variant, body):
    torch.manual_seed(0)
    model = STAF(STAFConfig(variant=variant, backbone="resnet18", image_size=64), body)
    # non-trivial BatchNorm statistics, so eval-mode outputs depend on every layer
    model.train()
    with torch.no_grad():
        model(torch.randn(2, 9, 3, 64, 64))
    crops = torch.randn(30, 3, 64, 64)
    streamed = StreamingRunner(model, window_batch=7, frame_batch=8)(crops)
    naive = naive_sequence(model, crops)
    assert streamed.vertices.shape == (30, body.num_vertices, 3)
    assert (streamed.vertices - naive.vertices).abs().max() < 1e-5
    assert (streamed.cam - naive.cam).abs().max() < 1e-5
    assert (streamed.joint_sets["lsp14"] - naive.joint_sets["lsp14"]).abs().max() < 1e-5
    # the edge frames really are different predictions (the comparison is not vacuous)
    assert (naive.vertices[0] - naive.vertices[15]).abs().max() > 1e-4
    assert model.training  # the runner restores the mode it found
