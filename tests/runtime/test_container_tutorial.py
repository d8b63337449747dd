"""Every example of SpikingJelly's "Container" tutorial (``activation_based_en/container.rst``),
run on snndsl's runtime with only the import changed, asserting what the tutorial states.

The tutorial's statements, one test each:
1. ``multi_step_forward(x_seq, net_s)`` and ``MultiStepContainer(net_s)`` give identical
   outputs for a single-step neuron;
2. the same for stateless ``(conv, bn)``;
3. ``seq_to_ann_forward`` and ``SeqToANNContainer`` agree with each other, "and also with"
   the step-by-step forms (true in eval mode only, see the test);
4. a container adds an index level to ``state_dict`` keys, so it cannot load ANN weights
   while ``layer.*`` can (the printed keys and the load results);
5. ``StepModeContainer`` runs stateless contents in both modes;
6. ``StepModeContainer`` runs stateful contents in both modes;
7. ``set_step_mode`` changes only the wrapper, ``net[0]`` stays single-step.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from snndsl.runtime import functional, layer, neuron

T, N, C, H, W = 4, 1, 3, 8, 8


def test_1_neuron_in_multi_step_forward_and_multi_step_container():
    net_s = neuron.IFNode(step_mode="s")
    x_seq = torch.rand([T, N, C, H, W])
    y_seq = functional.multi_step_forward(x_seq, net_s)
    assert y_seq.shape == (T, N, C, H, W)
    net_s.reset()
    net_m = layer.MultiStepContainer(net_s)
    z_seq = net_m(x_seq)
    assert z_seq.shape == (T, N, C, H, W)
    assert torch.equal(z_seq, y_seq)


def test_2_stateless_layers_in_multi_step_forward_and_container():
    with torch.no_grad():
        x_seq = torch.rand([T, N, C, H, W])
        conv = nn.Conv2d(C, 8, kernel_size=3, padding=1, bias=False)
        bn = nn.BatchNorm2d(8)
        y_seq = functional.multi_step_forward(x_seq, (conv, bn))
        assert y_seq.shape == (T, N, 8, H, W)
        net = layer.MultiStepContainer(conv, bn)
        z_seq = net(x_seq)
        assert z_seq.shape == (T, N, 8, H, W)
        assert torch.equal(z_seq, y_seq)


@pytest.mark.parametrize("train", [True, False])
def test_3_seq_to_ann_forms_and_the_batch_norm_caveat(train):
    with torch.no_grad():
        x_seq = torch.rand([T, N, C, H, W])
        conv = nn.Conv2d(C, 8, kernel_size=3, padding=1, bias=False)
        bn = nn.BatchNorm2d(8)
        bn.running_mean.uniform_(-0.2, 0.2)  # non-trivial statistics for eval mode
        bn.running_var.uniform_(0.5, 1.5)
        conv.train(train), bn.train(train)
        y_seq = functional.multi_step_forward(x_seq, (conv, bn))
        z_seq = layer.MultiStepContainer(conv, bn)(x_seq)
        p_seq = functional.seq_to_ann_forward(x_seq, (conv, bn))
        assert p_seq.shape == (T, N, 8, H, W)
        q_seq = layer.SeqToANNContainer(conv, bn)(x_seq)
        assert q_seq.shape == (T, N, 8, H, W)
        assert torch.equal(q_seq, p_seq)
        assert torch.equal(z_seq, y_seq)
        if train:
            # The tutorial says p/q are "also identical to y_seq and z_seq". Not in
            # training mode: there BatchNorm normalises with the statistics of the batch
            # it sees, N samples per step in multi_step_forward but T*N samples at once
            # in seq_to_ann_forward, so the outputs differ.
            assert not torch.allclose(p_seq, y_seq, atol=1e-3)
        else:
            # In eval mode BatchNorm uses its running statistics: the forms agree.
            torch.testing.assert_close(p_seq, y_seq, atol=1e-6, rtol=1e-6)


def test_4_containers_nest_state_dict_keys(capsys):
    ann = nn.Sequential(
        nn.Conv2d(3, 8, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU()
    )
    print(f"ann.state_dict.keys()={ann.state_dict().keys()}")
    net_container = nn.Sequential(
        layer.SeqToANNContainer(
            nn.Conv2d(3, 8, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(8)
        ),
        neuron.IFNode(step_mode="m"),
    )
    print(f"net_container.state_dict.keys()={net_container.state_dict().keys()}")
    net_origin = nn.Sequential(
        layer.Conv2d(3, 8, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(8),
        neuron.IFNode(step_mode="m"),
    )
    print(f"net_origin.state_dict.keys()={net_origin.state_dict().keys()}")
    out = capsys.readouterr().out.splitlines()
    flat = "['0.weight', '1.weight', '1.bias', '1.running_mean', '1.running_var', '1.num_batches_tracked']"
    nested = "['0.0.weight', '0.1.weight', '0.1.bias', '0.1.running_mean', '0.1.running_var', '0.1.num_batches_tracked']"
    assert out == [
        f"ann.state_dict.keys()=odict_keys({flat})",
        f"net_container.state_dict.keys()=odict_keys({nested})",
        f"net_origin.state_dict.keys()=odict_keys({flat})",
    ]
    with pytest.raises(RuntimeError) as failure:
        net_container.load_state_dict(ann.state_dict())
    message = str(failure.value)
    assert (
        "Missing key(s) in state_dict:" in message and "Unexpected key(s) in state_dict:" in message
    )
    for key in ("0.0.weight", "0.1.weight", "0.1.bias", "0.1.running_mean", "0.1.running_var"):
        assert f'"{key}"' in message.split("Unexpected")[0]
    for key in ("0.weight", "1.weight", "1.bias", "1.running_mean", "1.running_var"):
        assert f'"{key}"' in message.split("Unexpected")[1]
    net_origin.load_state_dict(ann.state_dict())  # "Load success!"
    assert torch.equal(net_origin[0].weight, ann[0].weight)


def test_5_step_mode_container_with_stateless_layers():
    with torch.no_grad():
        n, c = 2, 4
        x_seq = torch.rand([T, n, c, H, W])
        net = layer.StepModeContainer(
            False,
            nn.Conv2d(c, c, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(c),
        )
        net.step_mode = "m"
        y_seq = net(x_seq)
        assert y_seq.shape == (T, n, c, H, W)
        net.step_mode = "s"
        y = net(x_seq[0])
        assert y.shape == (n, c, H, W)


def test_6_step_mode_container_with_a_stateful_neuron():
    with torch.no_grad():
        n, c = 2, 4
        x_seq = torch.rand([T, n, c, H, W])
        net = layer.StepModeContainer(True, neuron.IFNode())
        net.step_mode = "m"
        y_seq = net(x_seq)
        assert y_seq.shape == (T, n, c, H, W)
        functional.reset_net(net)
        net.step_mode = "s"
        y = net(x_seq[0])
        assert y.shape == (n, c, H, W)
        assert torch.equal(y, y_seq[0])  # same neuron, same first step
        functional.reset_net(net)
        assert net[0].v == 0.0


def test_7_set_step_mode_changes_only_the_wrapper(capsys):
    with torch.no_grad():
        net = layer.StepModeContainer(True, neuron.IFNode())
        functional.set_step_mode(net, "m")
        print(f"net.step_mode={net.step_mode}")
        print(f"net[0].step_mode={net[0].step_mode}")
    assert capsys.readouterr().out.splitlines() == ["net.step_mode=m", "net[0].step_mode=s"]
    assert net[0].step_mode == "s"
