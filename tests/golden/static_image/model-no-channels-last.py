# Compiled by snndsl 0.1.0 from 'examples/static_image.snn', model StaticCIFAR.
# Generated code: edit the .snn file and recompile rather than editing this file.
from torch import nn

from snndsl.runtime import fused, neuron, surrogate
from snndsl.runtime.model import CompiledModule


# parameters: c=32, num_classes=10
class StaticCIFAR(CompiledModule):
    """The spiking network `StaticCIFAR`: call it on [T, N, ...] (multi-step) or [N, ...] (single-step)."""

    def __init__(self, step_mode: str = "m", carry_state: bool = False):
        super().__init__(step_mode, carry_state)
        self.encoder = nn.Conv2d(3, 32, 3, padding=1, bias=False)
        self.encoder_bn = nn.BatchNorm2d(32)
        self.sn0 = neuron.LIFNode(tau=2.0, surrogate_function=surrogate.Sigmoid(), detach_reset=True)
        self.conv1 = nn.Conv2d(32, 64, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.sn1 = neuron.LIFNode(tau=2.0, surrogate_function=surrogate.Sigmoid(), detach_reset=True)
        self.conv2 = nn.Conv2d(64, 64, 3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.sn2 = neuron.LIFNode(tau=2.0, surrogate_function=surrogate.Sigmoid(), detach_reset=True)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten_0 = nn.Flatten()
        self.fc = nn.Linear(64, 10)

    def multi_step_forward(self, img, T: int | None = None):
        """Inputs img: [N, 3, 32, 32]."""
        self.check_input('img', img, (3, 32, 32), static=True)
        N = img.shape[0]
        T = self.time_steps(T)
        # region0 (static: once on [N, ...], then broadcast over T): encoder -> encoder_bn
        encoder = self.encoder(img)
        encoder_bn = fused.repeated_batch_norm(self.encoder_bn, encoder, T)
        sn0 = self.sn0(encoder_bn.expand(T, *encoder_bn.shape))
        # region1 (batched over T*N): conv1 -> bn1
        sn0_flat = sn0.flatten(0, 1)
        conv1 = self.conv1(sn0_flat)
        bn1 = self.bn1(conv1)
        sn1 = self.sn1(bn1.unflatten(0, (T, N)))
        # region2 (batched over T*N): conv2 -> bn2
        sn1_flat = sn1.flatten(0, 1)
        conv2 = self.conv2(sn1_flat)
        bn2 = self.bn2(conv2)
        sn2 = self.sn2(bn2.unflatten(0, (T, N)))
        # region3 (batched over T*N): pool -> flatten_0 -> fc
        sn2_flat = sn2.flatten(0, 1)
        pool = self.pool(sn2_flat)
        flatten_0 = self.flatten_0(pool)
        fc = self.fc(flatten_0)
        return fc.unflatten(0, (T, N))

    def single_step_forward(self, img):
        """One time step: inputs img: [N, 3, 32, 32]."""
        self.check_input('img', img, (3, 32, 32), static=True)
        # region0: encoder -> encoder_bn
        encoder = self.encoder(img)
        encoder_bn = self.encoder_bn(encoder)
        sn0 = self.sn0(encoder_bn)
        # region1: conv1 -> bn1
        conv1 = self.conv1(sn0)
        bn1 = self.bn1(conv1)
        sn1 = self.sn1(bn1)
        # region2: conv2 -> bn2
        conv2 = self.conv2(sn1)
        bn2 = self.bn2(conv2)
        sn2 = self.sn2(bn2)
        # region3: pool -> flatten_0 -> fc
        pool = self.pool(sn2)
        flatten_0 = self.flatten_0(pool)
        fc = self.fc(flatten_0)
        return fc
