# Compiled by snndsl 0.1.0 from 'examples/csnn.snn', model CSNN.
# Generated code: edit the .snn file and recompile rather than editing this file.
import torch
from torch import nn

from snndsl.runtime import neuron, surrogate
from snndsl.runtime.model import CompiledModule


# parameters: channels=64, num_classes=10
class CSNN(CompiledModule):
    """The spiking network `CSNN`: call it on [T, N, ...] (multi-step) or [N, ...] (single-step)."""

    def __init__(self, step_mode: str = "m", carry_state: bool = False):
        super().__init__(step_mode, carry_state)
        self.conv1 = nn.Conv2d(1, 64, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.sn1 = neuron.LIFNode(tau=2.0, surrogate_function=surrogate.ATan(), detach_reset=True)
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(64, 64, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.sn2 = neuron.LIFNode(tau=2.0, surrogate_function=surrogate.ATan(), detach_reset=True)
        self.pool2 = nn.MaxPool2d(2)
        self.flat = nn.Flatten()
        self.fc1 = nn.Linear(3136, 1024, bias=False)
        self.sn3 = neuron.LIFNode(tau=2.0, surrogate_function=surrogate.ATan(), detach_reset=True)
        self.fc2 = nn.Linear(1024, 10, bias=False)
        self.sn4 = neuron.LIFNode(tau=2.0, surrogate_function=surrogate.ATan(), detach_reset=True)
        # convolutions of channels-last regions keep their weights channels-last too
        self.conv1.to(memory_format=torch.channels_last)
        self.conv2.to(memory_format=torch.channels_last)

    def multi_step_forward(self, img, T: int | None = None):
        """Inputs img: [T, N, 1, 28, 28]."""
        self.check_input('img', img, (1, 28, 28), static=False)
        T, N = img.shape[:2]
        # region0 (batched over T*N, channels-last): conv1 -> bn1
        img_flat = img.flatten(0, 1)
        img_nhwc = img_flat.contiguous(memory_format=torch.channels_last)
        conv1 = self.conv1(img_nhwc)
        bn1 = self.bn1(conv1)
        sn1 = self.sn1(bn1.unflatten(0, (T, N)))
        # region1 (batched over T*N, channels-last): pool1 -> conv2 -> bn2
        sn1_flat = sn1.flatten(0, 1)
        sn1_nhwc = sn1_flat.contiguous(memory_format=torch.channels_last)
        pool1 = self.pool1(sn1_nhwc)
        conv2 = self.conv2(pool1)
        bn2 = self.bn2(conv2)
        sn2 = self.sn2(bn2.unflatten(0, (T, N)))
        # region2 (batched over T*N, channels-last): pool2 -> flat -> fc1
        sn2_flat = sn2.flatten(0, 1)
        sn2_nhwc = sn2_flat.contiguous(memory_format=torch.channels_last)
        pool2 = self.pool2(sn2_nhwc)
        flat = self.flat(pool2)
        fc1 = self.fc1(flat)
        sn3 = self.sn3(fc1.unflatten(0, (T, N)))
        # region3 (batched over T*N): fc2
        sn3_flat = sn3.flatten(0, 1)
        fc2 = self.fc2(sn3_flat)
        sn4 = self.sn4(fc2.unflatten(0, (T, N)))
        return sn4

    def single_step_forward(self, img):
        """One time step: inputs img: [N, 1, 28, 28]."""
        self.check_input('img', img, (1, 28, 28), static=False)
        # region0: conv1 -> bn1
        conv1 = self.conv1(img)
        bn1 = self.bn1(conv1)
        sn1 = self.sn1(bn1)
        # region1: pool1 -> conv2 -> bn2
        pool1 = self.pool1(sn1)
        conv2 = self.conv2(pool1)
        bn2 = self.bn2(conv2)
        sn2 = self.sn2(bn2)
        # region2: pool2 -> flat -> fc1
        pool2 = self.pool2(sn2)
        flat = self.flat(pool2)
        fc1 = self.fc1(flat)
        sn3 = self.sn3(fc1)
        # region3: fc2
        fc2 = self.fc2(sn3)
        sn4 = self.sn4(fc2)
        return sn4
