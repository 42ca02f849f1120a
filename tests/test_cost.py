"""MACs/FLOPs and activation memory of one example (``specc check``'s summary), computed
from the IR: against torchinfo on the same network built by hand in PyTorch where
torchinfo counts correctly (dense, convolutions), and against hand counts elsewhere."""

from __future__ import annotations

import pytest

import specc
from specc.ir.cost import model_cost

CNN = """
model cnn {
  input image: float32[12, 10, 3]
  conv2d(8, kernel=3, padding=same, activation=relu)
  depthwise_conv2d(kernel=3, depth_multiplier=2)
  separable_conv2d(6, kernel=3, stride=2)
  conv2d(4, kernel=[1, 3], use_bias=false)
  flatten
  dense(16, activation=relu)
  dense(5)
}
"""


def test_conv_and_dense_counts_equal_torchinfo():
    torchinfo = pytest.importorskip("torchinfo")
    torch = pytest.importorskip("torch")
    from torch import nn

    model = specc.loads(CNN)
    cost = model_cost(model)
    types = {n.name: n.types[0].shape for n in model.nodes}
    h, w, c = types["separable_conv2d"]
    ref = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, 16, 3, groups=8),  # depthwise, multiplier 2
        nn.Conv2d(16, 16, 3, stride=2, groups=16, bias=False),  # separable: depthwise part …
        nn.Conv2d(16, 6, 1),  # … and pointwise part with the bias
        nn.Conv2d(6, 4, (1, 3), bias=False),
        nn.Flatten(),
        nn.Linear(types["conv2d_1"][0] * types["conv2d_1"][1] * 4, 16),
        nn.ReLU(),
        nn.Linear(16, 5),
    )
    stats = torchinfo.summary(ref, input_size=(1, 3, 12, 10), verbose=0)
    assert sum(p.numel() for p in ref.parameters()) == sum(model.count_params())
    assert cost.macs == stats.total_mult_adds
    # per layer as well (torchinfo's leaf layers with weights, in order)
    theirs = [s.macs for s in stats.summary_list if s.is_leaf_layer and s.num_params]
    ours = [c.macs for c in cost.layers if c.params]
    assert ours[:2] == theirs[:2] and ours[2] == theirs[2] + theirs[3] and ours[3:] == theirs[4:]
    # torchinfo's forward/backward pass size: 2 × the outputs of the layers with weights
    # (the separable conv is one layer here, two there: count the pointwise output)
    extra = 2 * 4 * h * w * 16
    assert cost.torchinfo_pass_bytes + extra == stats.total_output_bytes
    del torch


def test_hand_counts_of_layers_torchinfo_does_not_count_fully():
    m = specc.loads(
        """
        model m {
          input tokens: int32[10]
          embedding(vocab=50, dim=8)
          h = lstm(16, return_sequences=true)
          a = h -> multi_head_attention(heads=2, key_dim=4)
          b = (h, a) -> add -> layer_norm
          s = b -> gru(6)
          output s
        }
        """
    )
    c = {x.name: x for x in model_cost(m).layers}
    assert c["embedding"].macs == 0  # a lookup
    assert c["lstm"].macs == 10 * (8 * 64 + 16 * 64 + 64)  # every weight once per step
    # projections q, k, v (16 → 2·4) and output (2·4 → 16) at 10 positions, plus the
    # scores and the weighted values: 2 heads · 10 · 10 · (4 + 4)
    assert c["multi_head_attention"].macs == 10 * 3 * (16 * 8 + 8) + 10 * (8 * 16 + 16) + 2 * 10 * 10 * 8
    assert c["layer_norm"].macs == 10 * 16 * 2  # scale and shift per element
    assert c["add"].macs == 0
    assert c["gru"].macs == 10 * (16 * 18 + 6 * 18 + 2 * 18)  # reset_after: two biases
    # activations: every layer's outputs in their dtype
    assert c["lstm"].activation_bytes == 10 * 16 * 4
    total = model_cost(m)
    assert total.activation_values == sum(x.activation_values for x in total.layers)
    assert total.flops == 2 * total.macs


def test_transposed_convolution_uses_its_kernel_once_per_input_position():
    m = specc.loads("model t {\n input x: float32[5, 5, 3]\n conv2d_transpose(4, kernel=3, stride=2)\n}\n")
    (c,) = model_cost(m).layers
    out_h, out_w, _ = m.nodes[0].types[0].shape
    assert c.macs == 5 * 5 * (3 * 3 * 3 * 4) + out_h * out_w * 4


def test_unknown_dimensions_leave_the_count_open():
    m = specc.loads("model u {\n input x: float32[T, 4]\n dense(3)\n global_avgpool1d\n}\n")
    cost = model_cost(m)
    assert [c.macs for c in cost.layers] == [None, 0]
    assert cost.unknown_macs == 1 and cost.macs == 0
    assert cost.unknown_activations == 1  # the dense output [T, 3]; the pooled [3] is known
    assert cost.activation_values == 3
