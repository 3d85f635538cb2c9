"""FastDropout: the same dropout as nn.Dropout (rate, scaling, gradient, reproducibility) with
masks from 16-bit draws."""

from __future__ import annotations

import torch
from torch import nn

from xlt.models.fast_dropout import FastDropout, keep_mask, use_fast_dropout


def test_masks_drop_at_rate_p_in_every_lane():
    torch.manual_seed(0)
    for p in (0.1, 0.5):
        mask = keep_mask(torch.Size([2_000_000]), p)
        assert abs((1 - mask.float().mean().item()) - p) < 0.002
        lanes = mask.view(-1, 4).float().mean(0)  # the four 16-bit slices of each random word
        assert torch.allclose(lanes, torch.full((4,), 1 - p), atol=0.003)


def test_scaling_gradient_and_reproducibility():
    x = torch.randn(64, 300, requires_grad=True)
    drop = FastDropout(0.25)
    torch.manual_seed(1)
    y = drop(x)
    kept = y != 0
    assert torch.allclose(y[kept], x[kept] / 0.75)
    y.backward(torch.ones_like(y))
    assert torch.equal(x.grad, kept.float() / 0.75)
    torch.manual_seed(1)
    assert torch.equal(drop(x), y)  # seeded: the same mask
    assert not torch.equal(drop(x), y)  # the next call draws a new one
    drop.eval()
    assert drop(x) is x


def test_swapping_keeps_weights_and_eval_outputs():
    net = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.1), nn.Sequential(nn.Dropout(0.2)))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    net.eval()
    x = torch.randn(4, 8)
    expected = net(x)
    assert use_fast_dropout(net) == 2
    assert [type(m) for m in net.modules()].count(FastDropout) == 2
    assert net[2][0].p == 0.2 and not net[1].training  # same rate, same mode
    assert torch.equal(net(x), expected)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
