# Compiled by snndsl 0.1.0 from 'examples/ms_resnet.snn', model MSResNet18.
# Generated code: edit the .snn file and recompile rather than editing this file.
from torch import nn

from snndsl.runtime import fused, neuron, surrogate
from snndsl.runtime.model import Block, CompiledModule


# parameters: c=64, num_classes=10
class MSResNet18(CompiledModule):
    """The spiking network `MSResNet18`: call it on [T, N, ...] (multi-step) or [N, ...] (single-step)."""

    def __init__(self, step_mode: str = "m", carry_state: bool = False):
        super().__init__(step_mode, carry_state)
        # stem: group
        self.stem = nn.Sequential(
            nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(64),
        )
        # layer1: MSDown(cin=64, cout=64) group
        self.layer1 = nn.Sequential(Block('MSDown'), Block('MSBasic'))
        self.layer1[0].spike1 = neuron.LIFNode(tau=1.3333333333333333, decay_input=False, v_threshold=0.5, surrogate_function=surrogate.PiecewiseLeakyReLU(w=0.25, c=0.0), detach_reset=True)
        self.layer1[0].conv1 = nn.Conv2d(64, 64, 3, stride=2, padding=1, bias=False)
        self.layer1[0].bn1 = nn.BatchNorm2d(64)
        self.layer1[0].spike2 = neuron.LIFNode(tau=1.3333333333333333, decay_input=False, v_threshold=0.5, surrogate_function=surrogate.PiecewiseLeakyReLU(w=0.25, c=0.0), detach_reset=True)
        self.layer1[0].conv2 = nn.Conv2d(64, 64, 3, padding=1, bias=False)
        self.layer1[0].bn2 = nn.BatchNorm2d(64)
        # layer1.0.downsample: group
        self.layer1[0].downsample = nn.Sequential(nn.Conv2d(64, 64, 1, stride=2, bias=False), nn.BatchNorm2d(64))
        self.layer1[1].spike1 = neuron.LIFNode(tau=1.3333333333333333, decay_input=False, v_threshold=0.5, surrogate_function=surrogate.PiecewiseLeakyReLU(w=0.25, c=0.0), detach_reset=True)
        self.layer1[1].conv1 = nn.Conv2d(64, 64, 3, padding=1, bias=False)
        self.layer1[1].bn1 = nn.BatchNorm2d(64)
        self.layer1[1].spike2 = neuron.LIFNode(tau=1.3333333333333333, decay_input=False, v_threshold=0.5, surrogate_function=surrogate.PiecewiseLeakyReLU(w=0.25, c=0.0), detach_reset=True)
        self.layer1[1].conv2 = nn.Conv2d(64, 64, 3, padding=1, bias=False)
        self.layer1[1].bn2 = nn.BatchNorm2d(64)
        # layer2: MSDown(cin=64, cout=128) group
        self.layer2 = nn.Sequential(Block('MSDown'), Block('MSBasic'))
        self.layer2[0].spike1 = neuron.LIFNode(tau=1.3333333333333333, decay_input=False, v_threshold=0.5, surrogate_function=surrogate.PiecewiseLeakyReLU(w=0.25, c=0.0), detach_reset=True)
        self.layer2[0].conv1 = nn.Conv2d(64, 128, 3, stride=2, padding=1, bias=False)
        self.layer2[0].bn1 = nn.BatchNorm2d(128)
        self.layer2[0].spike2 = neuron.LIFNode(tau=1.3333333333333333, decay_input=False, v_threshold=0.5, surrogate_function=surrogate.PiecewiseLeakyReLU(w=0.25, c=0.0), detach_reset=True)
        self.layer2[0].conv2 = nn.Conv2d(128, 128, 3, padding=1, bias=False)
        self.layer2[0].bn2 = nn.BatchNorm2d(128)
        # layer2.0.downsample: group
        self.layer2[0].downsample = nn.Sequential(nn.Conv2d(64, 128, 1, stride=2, bias=False), nn.BatchNorm2d(128))
        self.layer2[1].spike1 = neuron.LIFNode(tau=1.3333333333333333, decay_input=False, v_threshold=0.5, surrogate_function=surrogate.PiecewiseLeakyReLU(w=0.25, c=0.0), detach_reset=True)
        self.layer2[1].conv1 = nn.Conv2d(128, 128, 3, padding=1, bias=False)
        self.layer2[1].bn1 = nn.BatchNorm2d(128)
        self.layer2[1].spike2 = neuron.LIFNode(tau=1.3333333333333333, decay_input=False, v_threshold=0.5, surrogate_function=surrogate.PiecewiseLeakyReLU(w=0.25, c=0.0), detach_reset=True)
        self.layer2[1].conv2 = nn.Conv2d(128, 128, 3, padding=1, bias=False)
        self.layer2[1].bn2 = nn.BatchNorm2d(128)
        # layer3: MSDown(cin=128, cout=256) group
        self.layer3 = nn.Sequential(Block('MSDown'), Block('MSBasic'))
        self.layer3[0].spike1 = neuron.LIFNode(tau=1.3333333333333333, decay_input=False, v_threshold=0.5, surrogate_function=surrogate.PiecewiseLeakyReLU(w=0.25, c=0.0), detach_reset=True)
        self.layer3[0].conv1 = nn.Conv2d(128, 256, 3, stride=2, padding=1, bias=False)
        self.layer3[0].bn1 = nn.BatchNorm2d(256)
        self.layer3[0].spike2 = neuron.LIFNode(tau=1.3333333333333333, decay_input=False, v_threshold=0.5, surrogate_function=surrogate.PiecewiseLeakyReLU(w=0.25, c=0.0), detach_reset=True)
        self.layer3[0].conv2 = nn.Conv2d(256, 256, 3, padding=1, bias=False)
        self.layer3[0].bn2 = nn.BatchNorm2d(256)
        # layer3.0.downsample: group
        self.layer3[0].downsample = nn.Sequential(nn.Conv2d(128, 256, 1, stride=2, bias=False), nn.BatchNorm2d(256))
        self.layer3[1].spike1 = neuron.LIFNode(tau=1.3333333333333333, decay_input=False, v_threshold=0.5, surrogate_function=surrogate.PiecewiseLeakyReLU(w=0.25, c=0.0), detach_reset=True)
        self.layer3[1].conv1 = nn.Conv2d(256, 256, 3, padding=1, bias=False)
        self.layer3[1].bn1 = nn.BatchNorm2d(256)
        self.layer3[1].spike2 = neuron.LIFNode(tau=1.3333333333333333, decay_input=False, v_threshold=0.5, surrogate_function=surrogate.PiecewiseLeakyReLU(w=0.25, c=0.0), detach_reset=True)
        self.layer3[1].conv2 = nn.Conv2d(256, 256, 3, padding=1, bias=False)
        self.layer3[1].bn2 = nn.BatchNorm2d(256)
        # layer4: MSDown(cin=256, cout=512) group
        self.layer4 = nn.Sequential(Block('MSDown'), Block('MSBasic'))
        self.layer4[0].spike1 = neuron.LIFNode(tau=1.3333333333333333, decay_input=False, v_threshold=0.5, surrogate_function=surrogate.PiecewiseLeakyReLU(w=0.25, c=0.0), detach_reset=True)
        self.layer4[0].conv1 = nn.Conv2d(256, 512, 3, stride=2, padding=1, bias=False)
        self.layer4[0].bn1 = nn.BatchNorm2d(512)
        self.layer4[0].spike2 = neuron.LIFNode(tau=1.3333333333333333, decay_input=False, v_threshold=0.5, surrogate_function=surrogate.PiecewiseLeakyReLU(w=0.25, c=0.0), detach_reset=True)
        self.layer4[0].conv2 = nn.Conv2d(512, 512, 3, padding=1, bias=False)
        self.layer4[0].bn2 = nn.BatchNorm2d(512)
        # layer4.0.downsample: group
        self.layer4[0].downsample = nn.Sequential(nn.Conv2d(256, 512, 1, stride=2, bias=False), nn.BatchNorm2d(512))
        self.layer4[1].spike1 = neuron.LIFNode(tau=1.3333333333333333, decay_input=False, v_threshold=0.5, surrogate_function=surrogate.PiecewiseLeakyReLU(w=0.25, c=0.0), detach_reset=True)
        self.layer4[1].conv1 = nn.Conv2d(512, 512, 3, padding=1, bias=False)
        self.layer4[1].bn1 = nn.BatchNorm2d(512)
        self.layer4[1].spike2 = neuron.LIFNode(tau=1.3333333333333333, decay_input=False, v_threshold=0.5, surrogate_function=surrogate.PiecewiseLeakyReLU(w=0.25, c=0.0), detach_reset=True)
        self.layer4[1].conv2 = nn.Conv2d(512, 512, 3, padding=1, bias=False)
        self.layer4[1].bn2 = nn.BatchNorm2d(512)
        self.head_lif = neuron.LIFNode(tau=1.3333333333333333, decay_input=False, v_threshold=0.5, surrogate_function=surrogate.PiecewiseLeakyReLU(w=0.25, c=0.0), detach_reset=True)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.flatten_0 = nn.Flatten()
        self.head = nn.Linear(512, 10)

    def multi_step_forward(self, img, T: int | None = None):
        """Inputs img: [N, 3, 32, 32]."""
        self.check_input('img', img, (3, 32, 32), static=True)
        N = img.shape[0]
        T = self.time_steps(T)
        # region0 (static: once on [N, ...], then broadcast over T): stem.0 -> stem.1 -> ...
        stem_0 = self.stem[0](img)
        stem_1 = fused.repeated_batch_norm(self.stem[1], stem_0, T)
        layer1_0_downsample_0 = self.layer1[0].downsample[0](stem_1)
        layer1_0_downsample_1 = fused.repeated_batch_norm(self.layer1[0].downsample[1], layer1_0_downsample_0, T)
        layer1_0_spike1 = self.layer1[0].spike1(stem_1.expand(T, *stem_1.shape))
        # region1 (batched over T*N): layer1.0.conv1 -> layer1.0.bn1
        layer1_0_spike1_flat = layer1_0_spike1.flatten(0, 1)
        layer1_0_conv1 = self.layer1[0].conv1(layer1_0_spike1_flat)
        layer1_0_bn1 = self.layer1[0].bn1(layer1_0_conv1)
        layer1_0_spike2 = self.layer1[0].spike2(layer1_0_bn1.unflatten(0, (T, N)))
        # region2 (batched over T*N): layer1.0.conv2 -> layer1.0.bn2 -> layer1.0.add_0
        layer1_0_spike2_flat = layer1_0_spike2.flatten(0, 1)
        layer1_0_conv2 = self.layer1[0].conv2(layer1_0_spike2_flat)
        layer1_0_bn2 = self.layer1[0].bn2(layer1_0_conv2)
        layer1_0_downsample_1_flat = layer1_0_downsample_1.expand(T, *layer1_0_downsample_1.shape).flatten(0, 1)
        layer1_0_add_0 = layer1_0_bn2 + layer1_0_downsample_1_flat
        layer1_1_spike1 = self.layer1[1].spike1(layer1_0_add_0.unflatten(0, (T, N)))
        # region3 (batched over T*N): layer1.1.conv1 -> layer1.1.bn1
        layer1_1_spike1_flat = layer1_1_spike1.flatten(0, 1)
        layer1_1_conv1 = self.layer1[1].conv1(layer1_1_spike1_flat)
        layer1_1_bn1 = self.layer1[1].bn1(layer1_1_conv1)
        layer1_1_spike2 = self.layer1[1].spike2(layer1_1_bn1.unflatten(0, (T, N)))
        # region4 (batched over T*N): layer1.1.conv2 -> layer1.1.bn2 -> layer1.1.add_0 -> ...
        layer1_1_spike2_flat = layer1_1_spike2.flatten(0, 1)
        layer1_1_conv2 = self.layer1[1].conv2(layer1_1_spike2_flat)
        layer1_1_bn2 = self.layer1[1].bn2(layer1_1_conv2)
        layer1_1_add_0 = layer1_1_bn2 + layer1_0_add_0
        layer2_0_downsample_0 = self.layer2[0].downsample[0](layer1_1_add_0)
        layer2_0_downsample_1 = self.layer2[0].downsample[1](layer2_0_downsample_0)
        layer2_0_spike1 = self.layer2[0].spike1(layer1_1_add_0.unflatten(0, (T, N)))
        # region5 (batched over T*N): layer2.0.conv1 -> layer2.0.bn1
        layer2_0_spike1_flat = layer2_0_spike1.flatten(0, 1)
        layer2_0_conv1 = self.layer2[0].conv1(layer2_0_spike1_flat)
        layer2_0_bn1 = self.layer2[0].bn1(layer2_0_conv1)
        layer2_0_spike2 = self.layer2[0].spike2(layer2_0_bn1.unflatten(0, (T, N)))
        # region6 (batched over T*N): layer2.0.conv2 -> layer2.0.bn2 -> layer2.0.add_0
        layer2_0_spike2_flat = layer2_0_spike2.flatten(0, 1)
        layer2_0_conv2 = self.layer2[0].conv2(layer2_0_spike2_flat)
        layer2_0_bn2 = self.layer2[0].bn2(layer2_0_conv2)
        layer2_0_add_0 = layer2_0_bn2 + layer2_0_downsample_1
        layer2_1_spike1 = self.layer2[1].spike1(layer2_0_add_0.unflatten(0, (T, N)))
        # region7 (batched over T*N): layer2.1.conv1 -> layer2.1.bn1
        layer2_1_spike1_flat = layer2_1_spike1.flatten(0, 1)
        layer2_1_conv1 = self.layer2[1].conv1(layer2_1_spike1_flat)
        layer2_1_bn1 = self.layer2[1].bn1(layer2_1_conv1)
        layer2_1_spike2 = self.layer2[1].spike2(layer2_1_bn1.unflatten(0, (T, N)))
        # region8 (batched over T*N): layer2.1.conv2 -> layer2.1.bn2 -> layer2.1.add_0 -> ...
        layer2_1_spike2_flat = layer2_1_spike2.flatten(0, 1)
        layer2_1_conv2 = self.layer2[1].conv2(layer2_1_spike2_flat)
        layer2_1_bn2 = self.layer2[1].bn2(layer2_1_conv2)
        layer2_1_add_0 = layer2_1_bn2 + layer2_0_add_0
        layer3_0_downsample_0 = self.layer3[0].downsample[0](layer2_1_add_0)
        layer3_0_downsample_1 = self.layer3[0].downsample[1](layer3_0_downsample_0)
        layer3_0_spike1 = self.layer3[0].spike1(layer2_1_add_0.unflatten(0, (T, N)))
        # region9 (batched over T*N): layer3.0.conv1 -> layer3.0.bn1
        layer3_0_spike1_flat = layer3_0_spike1.flatten(0, 1)
        layer3_0_conv1 = self.layer3[0].conv1(layer3_0_spike1_flat)
        layer3_0_bn1 = self.layer3[0].bn1(layer3_0_conv1)
        layer3_0_spike2 = self.layer3[0].spike2(layer3_0_bn1.unflatten(0, (T, N)))
        # region10 (batched over T*N): layer3.0.conv2 -> layer3.0.bn2 -> layer3.0.add_0
        layer3_0_spike2_flat = layer3_0_spike2.flatten(0, 1)
        layer3_0_conv2 = self.layer3[0].conv2(layer3_0_spike2_flat)
        layer3_0_bn2 = self.layer3[0].bn2(layer3_0_conv2)
        layer3_0_add_0 = layer3_0_bn2 + layer3_0_downsample_1
        layer3_1_spike1 = self.layer3[1].spike1(layer3_0_add_0.unflatten(0, (T, N)))
        # region11 (batched over T*N): layer3.1.conv1 -> layer3.1.bn1
        layer3_1_spike1_flat = layer3_1_spike1.flatten(0, 1)
        layer3_1_conv1 = self.layer3[1].conv1(layer3_1_spike1_flat)
        layer3_1_bn1 = self.layer3[1].bn1(layer3_1_conv1)
        layer3_1_spike2 = self.layer3[1].spike2(layer3_1_bn1.unflatten(0, (T, N)))
        # region12 (batched over T*N): layer3.1.conv2 -> layer3.1.bn2 -> layer3.1.add_0 -> ...
        layer3_1_spike2_flat = layer3_1_spike2.flatten(0, 1)
        layer3_1_conv2 = self.layer3[1].conv2(layer3_1_spike2_flat)
        layer3_1_bn2 = self.layer3[1].bn2(layer3_1_conv2)
        layer3_1_add_0 = layer3_1_bn2 + layer3_0_add_0
        layer4_0_downsample_0 = self.layer4[0].downsample[0](layer3_1_add_0)
        layer4_0_downsample_1 = self.layer4[0].downsample[1](layer4_0_downsample_0)
        layer4_0_spike1 = self.layer4[0].spike1(layer3_1_add_0.unflatten(0, (T, N)))
        # region13 (batched over T*N): layer4.0.conv1 -> layer4.0.bn1
        layer4_0_spike1_flat = layer4_0_spike1.flatten(0, 1)
        layer4_0_conv1 = self.layer4[0].conv1(layer4_0_spike1_flat)
        layer4_0_bn1 = self.layer4[0].bn1(layer4_0_conv1)
        layer4_0_spike2 = self.layer4[0].spike2(layer4_0_bn1.unflatten(0, (T, N)))
        # region14 (batched over T*N): layer4.0.conv2 -> layer4.0.bn2 -> layer4.0.add_0
        layer4_0_spike2_flat = layer4_0_spike2.flatten(0, 1)
        layer4_0_conv2 = self.layer4[0].conv2(layer4_0_spike2_flat)
        layer4_0_bn2 = self.layer4[0].bn2(layer4_0_conv2)
        layer4_0_add_0 = layer4_0_bn2 + layer4_0_downsample_1
        layer4_1_spike1 = self.layer4[1].spike1(layer4_0_add_0.unflatten(0, (T, N)))
        # region15 (batched over T*N): layer4.1.conv1 -> layer4.1.bn1
        layer4_1_spike1_flat = layer4_1_spike1.flatten(0, 1)
        layer4_1_conv1 = self.layer4[1].conv1(layer4_1_spike1_flat)
        layer4_1_bn1 = self.layer4[1].bn1(layer4_1_conv1)
        layer4_1_spike2 = self.layer4[1].spike2(layer4_1_bn1.unflatten(0, (T, N)))
        # region16 (batched over T*N): layer4.1.conv2 -> layer4.1.bn2 -> layer4.1.add_0
        layer4_1_spike2_flat = layer4_1_spike2.flatten(0, 1)
        layer4_1_conv2 = self.layer4[1].conv2(layer4_1_spike2_flat)
        layer4_1_bn2 = self.layer4[1].bn2(layer4_1_conv2)
        layer4_1_add_0 = layer4_1_bn2 + layer4_0_add_0
        head_lif = self.head_lif(layer4_1_add_0.unflatten(0, (T, N)))
        # region17 (batched over T*N): avgpool -> flatten_0 -> head
        head_lif_flat = head_lif.flatten(0, 1)
        avgpool = self.avgpool(head_lif_flat)
        flatten_0 = self.flatten_0(avgpool)
        head = self.head(flatten_0)
        return head.unflatten(0, (T, N))

    def single_step_forward(self, img):
        """One time step: inputs img: [N, 3, 32, 32]."""
        self.check_input('img', img, (3, 32, 32), static=True)
        # region0: stem.0 -> stem.1 -> layer1.0.downsample.0 -> layer1.0.downsample.1
        stem_0 = self.stem[0](img)
        stem_1 = self.stem[1](stem_0)
        layer1_0_downsample_0 = self.layer1[0].downsample[0](stem_1)
        layer1_0_downsample_1 = self.layer1[0].downsample[1](layer1_0_downsample_0)
        layer1_0_spike1 = self.layer1[0].spike1(stem_1)
        # region1: layer1.0.conv1 -> layer1.0.bn1
        layer1_0_conv1 = self.layer1[0].conv1(layer1_0_spike1)
        layer1_0_bn1 = self.layer1[0].bn1(layer1_0_conv1)
        layer1_0_spike2 = self.layer1[0].spike2(layer1_0_bn1)
        # region2: layer1.0.conv2 -> layer1.0.bn2 -> layer1.0.add_0
        layer1_0_conv2 = self.layer1[0].conv2(layer1_0_spike2)
        layer1_0_bn2 = self.layer1[0].bn2(layer1_0_conv2)
        layer1_0_add_0 = layer1_0_bn2 + layer1_0_downsample_1
        layer1_1_spike1 = self.layer1[1].spike1(layer1_0_add_0)
        # region3: layer1.1.conv1 -> layer1.1.bn1
        layer1_1_conv1 = self.layer1[1].conv1(layer1_1_spike1)
        layer1_1_bn1 = self.layer1[1].bn1(layer1_1_conv1)
        layer1_1_spike2 = self.layer1[1].spike2(layer1_1_bn1)
        # region4: layer1.1.conv2 -> layer1.1.bn2 -> layer1.1.add_0 -> layer2.0.downsample.0 -> ...
        layer1_1_conv2 = self.layer1[1].conv2(layer1_1_spike2)
        layer1_1_bn2 = self.layer1[1].bn2(layer1_1_conv2)
        layer1_1_add_0 = layer1_1_bn2 + layer1_0_add_0
        layer2_0_downsample_0 = self.layer2[0].downsample[0](layer1_1_add_0)
        layer2_0_downsample_1 = self.layer2[0].downsample[1](layer2_0_downsample_0)
        layer2_0_spike1 = self.layer2[0].spike1(layer1_1_add_0)
        # region5: layer2.0.conv1 -> layer2.0.bn1
        layer2_0_conv1 = self.layer2[0].conv1(layer2_0_spike1)
        layer2_0_bn1 = self.layer2[0].bn1(layer2_0_conv1)
        layer2_0_spike2 = self.layer2[0].spike2(layer2_0_bn1)
        # region6: layer2.0.conv2 -> layer2.0.bn2 -> layer2.0.add_0
        layer2_0_conv2 = self.layer2[0].conv2(layer2_0_spike2)
        layer2_0_bn2 = self.layer2[0].bn2(layer2_0_conv2)
        layer2_0_add_0 = layer2_0_bn2 + layer2_0_downsample_1
        layer2_1_spike1 = self.layer2[1].spike1(layer2_0_add_0)
        # region7: layer2.1.conv1 -> layer2.1.bn1
        layer2_1_conv1 = self.layer2[1].conv1(layer2_1_spike1)
        layer2_1_bn1 = self.layer2[1].bn1(layer2_1_conv1)
        layer2_1_spike2 = self.layer2[1].spike2(layer2_1_bn1)
        # region8: layer2.1.conv2 -> layer2.1.bn2 -> layer2.1.add_0 -> layer3.0.downsample.0 -> ...
        layer2_1_conv2 = self.layer2[1].conv2(layer2_1_spike2)
        layer2_1_bn2 = self.layer2[1].bn2(layer2_1_conv2)
        layer2_1_add_0 = layer2_1_bn2 + layer2_0_add_0
        layer3_0_downsample_0 = self.layer3[0].downsample[0](layer2_1_add_0)
        layer3_0_downsample_1 = self.layer3[0].downsample[1](layer3_0_downsample_0)
        layer3_0_spike1 = self.layer3[0].spike1(layer2_1_add_0)
        # region9: layer3.0.conv1 -> layer3.0.bn1
        layer3_0_conv1 = self.layer3[0].conv1(layer3_0_spike1)
        layer3_0_bn1 = self.layer3[0].bn1(layer3_0_conv1)
        layer3_0_spike2 = self.layer3[0].spike2(layer3_0_bn1)
        # region10: layer3.0.conv2 -> layer3.0.bn2 -> layer3.0.add_0
        layer3_0_conv2 = self.layer3[0].conv2(layer3_0_spike2)
        layer3_0_bn2 = self.layer3[0].bn2(layer3_0_conv2)
        layer3_0_add_0 = layer3_0_bn2 + layer3_0_downsample_1
        layer3_1_spike1 = self.layer3[1].spike1(layer3_0_add_0)
        # region11: layer3.1.conv1 -> layer3.1.bn1
        layer3_1_conv1 = self.layer3[1].conv1(layer3_1_spike1)
        layer3_1_bn1 = self.layer3[1].bn1(layer3_1_conv1)
        layer3_1_spike2 = self.layer3[1].spike2(layer3_1_bn1)
        # region12: layer3.1.conv2 -> layer3.1.bn2 -> layer3.1.add_0 -> layer4.0.downsample.0 -> ...
        layer3_1_conv2 = self.layer3[1].conv2(layer3_1_spike2)
        layer3_1_bn2 = self.layer3[1].bn2(layer3_1_conv2)
        layer3_1_add_0 = layer3_1_bn2 + layer3_0_add_0
        layer4_0_downsample_0 = self.layer4[0].downsample[0](layer3_1_add_0)
        layer4_0_downsample_1 = self.layer4[0].downsample[1](layer4_0_downsample_0)
        layer4_0_spike1 = self.layer4[0].spike1(layer3_1_add_0)
        # region13: layer4.0.conv1 -> layer4.0.bn1
        layer4_0_conv1 = self.layer4[0].conv1(layer4_0_spike1)
        layer4_0_bn1 = self.layer4[0].bn1(layer4_0_conv1)
        layer4_0_spike2 = self.layer4[0].spike2(layer4_0_bn1)
        # region14: layer4.0.conv2 -> layer4.0.bn2 -> layer4.0.add_0
        layer4_0_conv2 = self.layer4[0].conv2(layer4_0_spike2)
        layer4_0_bn2 = self.layer4[0].bn2(layer4_0_conv2)
        layer4_0_add_0 = layer4_0_bn2 + layer4_0_downsample_1
        layer4_1_spike1 = self.layer4[1].spike1(layer4_0_add_0)
        # region15: layer4.1.conv1 -> layer4.1.bn1
        layer4_1_conv1 = self.layer4[1].conv1(layer4_1_spike1)
        layer4_1_bn1 = self.layer4[1].bn1(layer4_1_conv1)
        layer4_1_spike2 = self.layer4[1].spike2(layer4_1_bn1)
        # region16: layer4.1.conv2 -> layer4.1.bn2 -> layer4.1.add_0
        layer4_1_conv2 = self.layer4[1].conv2(layer4_1_spike2)
        layer4_1_bn2 = self.layer4[1].bn2(layer4_1_conv2)
        layer4_1_add_0 = layer4_1_bn2 + layer4_0_add_0
        head_lif = self.head_lif(layer4_1_add_0)
        # region17: avgpool -> flatten_0 -> head
        avgpool = self.avgpool(head_lif)
        flatten_0 = self.flatten_0(avgpool)
        head = self.head(flatten_0)
        return head
