# Compiled by snndsl 0.1.0 from 'examples/plif_net.snn', model PLIFNet.
# Generated code: edit the .snn file and recompile rather than editing this file.
import torch
from torch import nn

from snndsl.runtime import fused, layer, neuron, surrogate
from snndsl.runtime.model import CompiledModule


# parameters: channels=32, num_classes=10, p=0.2
class PLIFNet(CompiledModule):
    """The spiking network `PLIFNet`: call it on [T, N, ...] (multi-step) or [N, ...] (single-step)."""

    def __init__(self, step_mode: str = "m", carry_state: bool = False):
        super().__init__(step_mode, carry_state)
        # features: group
        self.features = nn.Sequential(
            nn.Conv2d(2, 32, 3, padding=1, bias=False),
            nn.BatchNorm2d(32),
            neuron.ParametricLIFNode(init_tau=2.0, surrogate_function=surrogate.Sigmoid(alpha=4.0), detach_reset=True),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 32, 3, padding=1, bias=False),
            nn.BatchNorm2d(32),
            neuron.ParametricLIFNode(init_tau=2.0, surrogate_function=surrogate.Sigmoid(alpha=4.0), detach_reset=True),
            nn.MaxPool2d(2),
        )
        self.flat = nn.Flatten()
        self.drop1 = layer.Dropout(p=0.2)
        self.fc1 = nn.Linear(2048, 128)
        self.sn1 = neuron.ParametricLIFNode(decay_input=False, init_tau=2.0, surrogate_function=surrogate.Sigmoid(alpha=4.0), detach_reset=True)
        self.fc2 = nn.Linear(128, 100)
        self.sn2 = neuron.ParametricLIFNode(init_tau=2.0, surrogate_function=surrogate.Sigmoid(alpha=4.0), detach_reset=True)
        self.vote = layer.VotingLayer(10)
        # convolutions of channels-last regions keep their weights channels-last too
        self.features[0].to(memory_format=torch.channels_last)
        self.features[4].to(memory_format=torch.channels_last)

    def multi_step_forward(self, x, T: int | None = None):
        """Inputs x: [T, N, 2, 34, 34]."""
        self.check_input('x', x, (2, 34, 34), static=False)
        T, N = x.shape[:2]
        # region0 (batched over T*N, channels-last): features.0+features.1
        x_flat = x.flatten(0, 1)
        x_nhwc = x_flat.contiguous(memory_format=torch.channels_last)
        features_1 = fused.conv_bn(self.features[0], self.features[1], x_nhwc)
        features_2 = self.features[2](features_1.unflatten(0, (T, N)))
        # region1 (batched over T*N, channels-last): features.3 -> features.4+features.5
        features_2_flat = features_2.flatten(0, 1)
        features_2_nhwc = features_2_flat.contiguous(memory_format=torch.channels_last)
        features_3 = self.features[3](features_2_nhwc)
        features_5 = fused.conv_bn(self.features[4], self.features[5], features_3)
        features_6 = self.features[6](features_5.unflatten(0, (T, N)))
        # region2 (batched over T*N, channels-last): features.7 -> flat
        features_6_flat = features_6.flatten(0, 1)
        features_6_nhwc = features_6_flat.contiguous(memory_format=torch.channels_last)
        features_7 = self.features[7](features_6_nhwc)
        flat = self.flat(features_7)
        drop1 = self.drop1(flat.unflatten(0, (T, N)))
        # region3 (batched over T*N): fc1
        drop1_flat = drop1.flatten(0, 1)
        fc1 = self.fc1(drop1_flat)
        sn1 = self.sn1(fc1.unflatten(0, (T, N)))
        # region4 (batched over T*N): fc2
        sn1_flat = sn1.flatten(0, 1)
        fc2 = self.fc2(sn1_flat)
        sn2 = self.sn2(fc2.unflatten(0, (T, N)))
        # region5 (batched over T*N): vote
        sn2_flat = sn2.flatten(0, 1)
        vote = self.vote(sn2_flat)
        return vote.unflatten(0, (T, N))

    def single_step_forward(self, x):
        """One time step: inputs x: [N, 2, 34, 34]."""
        self.check_input('x', x, (2, 34, 34), static=False)
        # region0: features.0+features.1
        features_1 = fused.conv_bn(self.features[0], self.features[1], x)
        features_2 = self.features[2](features_1)
        # region1: features.3 -> features.4+features.5
        features_3 = self.features[3](features_2)
        features_5 = fused.conv_bn(self.features[4], self.features[5], features_3)
        features_6 = self.features[6](features_5)
        # region2: features.7 -> flat
        features_7 = self.features[7](features_6)
        flat = self.flat(features_7)
        drop1 = self.drop1(flat)
        # region3: fc1
        fc1 = self.fc1(drop1)
        sn1 = self.sn1(fc1)
        # region4: fc2
        fc2 = self.fc2(sn1)
        sn2 = self.sn2(fc2)
        # region5: vote
        vote = self.vote(sn2)
        return vote
