# Compiled by snndsl 0.1.0 from 'examples/digits.snn', model DigitsSNN.
# Generated code: edit the .snn file and recompile rather than editing this file.
from torch import nn

from snndsl.runtime import fused, neuron, surrogate
from snndsl.runtime.model import CompiledModule


# parameters: channels=16, hidden=128, num_classes=10
class DigitsSNN(CompiledModule):
    """The spiking network `DigitsSNN`: call it on [T, N, ...] (multi-step) or [N, ...] (single-step)."""

    def __init__(self, step_mode: str = "m", carry_state: bool = False):
        super().__init__(step_mode, carry_state)
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16, momentum=0.2)
        self.sn1 = neuron.LIFNode(tau=2.0, v_threshold=0.5, surrogate_function=surrogate.ATan(), detach_reset=True)
        self.pool1 = nn.MaxPool2d(2)
        self.flat = nn.Flatten()
        self.fc1 = nn.Linear(256, 128, bias=False)
        self.bn2 = nn.BatchNorm1d(128, momentum=0.2)
        self.sn2 = neuron.LIFNode(tau=2.0, v_threshold=0.5, surrogate_function=surrogate.ATan(), detach_reset=True)
        self.fc2 = nn.Linear(128, 10)

    def multi_step_forward(self, img, T: int | None = None):
        """Inputs img: [N, 1, 8, 8]."""
        self.check_input('img', img, (1, 8, 8), static=True)
        N = img.shape[0]
        T = self.time_steps(T)
        # region0 (static: once on [N, ...], then broadcast over T): conv1 -> bn1
        conv1 = self.conv1(img)
        bn1 = fused.repeated_batch_norm(self.bn1, conv1, T)
        sn1 = self.sn1(bn1.expand(T, *bn1.shape))
        # region1 (batched over T*N): pool1 -> flat -> fc1 -> bn2
        sn1_flat = sn1.flatten(0, 1)
        pool1 = self.pool1(sn1_flat)
        flat = self.flat(pool1)
        fc1 = self.fc1(flat)
        bn2 = self.bn2(fc1)
        sn2 = self.sn2(bn2.unflatten(0, (T, N)))
        # region2 (batched over T*N): fc2
        sn2_flat = sn2.flatten(0, 1)
        fc2 = self.fc2(sn2_flat)
        return fc2.unflatten(0, (T, N))

    def single_step_forward(self, img):
        """One time step: inputs img: [N, 1, 8, 8]."""
        self.check_input('img', img, (1, 8, 8), static=True)
        # region0: conv1 -> bn1
        conv1 = self.conv1(img)
        bn1 = self.bn1(conv1)
        sn1 = self.sn1(bn1)
        # region1: pool1 -> flat -> fc1 -> bn2
        pool1 = self.pool1(sn1)
        flat = self.flat(pool1)
        fc1 = self.fc1(flat)
        bn2 = self.bn2(fc1)
        sn2 = self.sn2(bn2)
        # region2: fc2
        fc2 = self.fc2(sn2)
        return fc2
