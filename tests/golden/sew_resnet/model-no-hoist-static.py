# Compiled by snndsl 0.1.0 from 'examples/sew_resnet.snn', model SEWResNet.
# Generated code: edit the .snn file and recompile rather than editing this file.
import torch
from torch import nn

from snndsl.runtime import neuron, surrogate
from snndsl.runtime.model import Block, CompiledModule


# parameters: c=32, num_classes=10
class SEWResNet(CompiledModule):
    """The spiking network `SEWResNet`: call it on [T, N, ...] (multi-step) or [N, ...] (single-step)."""

    def __init__(self, step_mode: str = "m", carry_state: bool = False):
        super().__init__(step_mode, carry_state)
        self.conv1 = nn.Conv2d(3, 32, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.sn1 = neuron.IFNode(surrogate_function=surrogate.ATan(), detach_reset=True)
        # layer1: Basic(c=32) * 2
        self.layer1 = nn.Sequential(Block('Basic'), Block('Basic'))
        self.layer1[0].conv1 = nn.Conv2d(32, 32, 3, padding=1, bias=False)
        self.layer1[0].bn1 = nn.BatchNorm2d(32)
        self.layer1[0].sn1 = neuron.IFNode(surrogate_function=surrogate.ATan(), detach_reset=True)
        self.layer1[0].conv2 = nn.Conv2d(32, 32, 3, padding=1, bias=False)
        self.layer1[0].bn2 = nn.BatchNorm2d(32)
        self.layer1[0].sn2 = neuron.IFNode(surrogate_function=surrogate.ATan(), detach_reset=True)
        self.layer1[1].conv1 = nn.Conv2d(32, 32, 3, padding=1, bias=False)
        self.layer1[1].bn1 = nn.BatchNorm2d(32)
        self.layer1[1].sn1 = neuron.IFNode(surrogate_function=surrogate.ATan(), detach_reset=True)
        self.layer1[1].conv2 = nn.Conv2d(32, 32, 3, padding=1, bias=False)
        self.layer1[1].bn2 = nn.BatchNorm2d(32)
        self.layer1[1].sn2 = neuron.IFNode(surrogate_function=surrogate.ATan(), detach_reset=True)
        # layer2: Down(cin=32, cout=64) group
        self.layer2 = nn.Sequential(Block('Down'), Block('Basic'))
        self.layer2[0].conv1 = nn.Conv2d(32, 64, 3, stride=2, padding=1, bias=False)
        self.layer2[0].bn1 = nn.BatchNorm2d(64)
        self.layer2[0].sn1 = neuron.IFNode(surrogate_function=surrogate.ATan(), detach_reset=True)
        self.layer2[0].conv2 = nn.Conv2d(64, 64, 3, padding=1, bias=False)
        self.layer2[0].bn2 = nn.BatchNorm2d(64)
        self.layer2[0].sn2 = neuron.IFNode(surrogate_function=surrogate.ATan(), detach_reset=True)
        # layer2.0.downsample: group
        self.layer2[0].downsample = nn.Sequential(
            nn.Conv2d(32, 64, 1, stride=2, bias=False),
            nn.BatchNorm2d(64),
            neuron.IFNode(surrogate_function=surrogate.ATan(), detach_reset=True),
        )
        self.layer2[1].conv1 = nn.Conv2d(64, 64, 3, padding=1, bias=False)
        self.layer2[1].bn1 = nn.BatchNorm2d(64)
        self.layer2[1].sn1 = neuron.IFNode(surrogate_function=surrogate.ATan(), detach_reset=True)
        self.layer2[1].conv2 = nn.Conv2d(64, 64, 3, padding=1, bias=False)
        self.layer2[1].bn2 = nn.BatchNorm2d(64)
        self.layer2[1].sn2 = neuron.IFNode(surrogate_function=surrogate.ATan(), detach_reset=True)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten_0 = nn.Flatten()
        self.fc = nn.Linear(64, 10)
        # convolutions of channels-last regions keep their weights channels-last too
        self.conv1.to(memory_format=torch.channels_last)
        self.layer1[0].conv1.to(memory_format=torch.channels_last)
        self.layer1[0].conv2.to(memory_format=torch.channels_last)
        self.layer1[1].conv1.to(memory_format=torch.channels_last)
        self.layer1[1].conv2.to(memory_format=torch.channels_last)
        self.layer2[0].conv1.to(memory_format=torch.channels_last)
        self.layer2[0].conv2.to(memory_format=torch.channels_last)
        self.layer2[0].downsample[0].to(memory_format=torch.channels_last)
        self.layer2[1].conv1.to(memory_format=torch.channels_last)
        self.layer2[1].conv2.to(memory_format=torch.channels_last)

    def multi_step_forward(self, img, T: int | None = None):
        """Inputs img: [T, N, 3, 32, 32]."""
        self.check_input('img', img, (3, 32, 32), static=False)
        T, N = img.shape[:2]
        # region0 (batched over T*N, channels-last): conv1 -> bn1
        img_flat = img.flatten(0, 1)
        img_nhwc = img_flat.contiguous(memory_format=torch.channels_last)
        conv1 = self.conv1(img_nhwc)
        bn1 = self.bn1(conv1)
        sn1 = self.sn1(bn1.unflatten(0, (T, N)))
        # region1 (batched over T*N, channels-last): layer1.0.conv1 -> layer1.0.bn1
        sn1_flat = sn1.flatten(0, 1)
        sn1_nhwc = sn1_flat.contiguous(memory_format=torch.channels_last)
        layer1_0_conv1 = self.layer1[0].conv1(sn1_nhwc)
        layer1_0_bn1 = self.layer1[0].bn1(layer1_0_conv1)
        layer1_0_sn1 = self.layer1[0].sn1(layer1_0_bn1.unflatten(0, (T, N)))
        # region2 (batched over T*N, channels-last): layer1.0.conv2 -> layer1.0.bn2
        layer1_0_sn1_flat = layer1_0_sn1.flatten(0, 1)
        layer1_0_sn1_nhwc = layer1_0_sn1_flat.contiguous(memory_format=torch.channels_last)
        layer1_0_conv2 = self.layer1[0].conv2(layer1_0_sn1_nhwc)
        layer1_0_bn2 = self.layer1[0].bn2(layer1_0_conv2)
        layer1_0_sn2 = self.layer1[0].sn2(layer1_0_bn2.unflatten(0, (T, N)))
        # region3 (batched over T*N, channels-last): layer1.0.add_0 -> layer1.1.conv1 -> ...
        layer1_0_sn2_flat = layer1_0_sn2.flatten(0, 1)
        layer1_0_sn2_nhwc = layer1_0_sn2_flat.contiguous(memory_format=torch.channels_last)
        layer1_0_add_0 = layer1_0_sn2_nhwc + sn1_nhwc
        layer1_1_conv1 = self.layer1[1].conv1(layer1_0_add_0)
        layer1_1_bn1 = self.layer1[1].bn1(layer1_1_conv1)
        layer1_1_sn1 = self.layer1[1].sn1(layer1_1_bn1.unflatten(0, (T, N)))
        # region4 (batched over T*N, channels-last): layer1.1.conv2 -> layer1.1.bn2
        layer1_1_sn1_flat = layer1_1_sn1.flatten(0, 1)
        layer1_1_sn1_nhwc = layer1_1_sn1_flat.contiguous(memory_format=torch.channels_last)
        layer1_1_conv2 = self.layer1[1].conv2(layer1_1_sn1_nhwc)
        layer1_1_bn2 = self.layer1[1].bn2(layer1_1_conv2)
        layer1_1_sn2 = self.layer1[1].sn2(layer1_1_bn2.unflatten(0, (T, N)))
        # region5 (batched over T*N, channels-last): layer1.1.add_0 -> layer2.0.conv1 -> ...
        layer1_1_sn2_flat = layer1_1_sn2.flatten(0, 1)
        layer1_1_sn2_nhwc = layer1_1_sn2_flat.contiguous(memory_format=torch.channels_last)
        layer1_1_add_0 = layer1_1_sn2_nhwc + layer1_0_add_0
        layer2_0_conv1 = self.layer2[0].conv1(layer1_1_add_0)
        layer2_0_bn1 = self.layer2[0].bn1(layer2_0_conv1)
        layer2_0_downsample_0 = self.layer2[0].downsample[0](layer1_1_add_0)
        layer2_0_downsample_1 = self.layer2[0].downsample[1](layer2_0_downsample_0)
        layer2_0_sn1 = self.layer2[0].sn1(layer2_0_bn1.unflatten(0, (T, N)))
        # region6 (batched over T*N, channels-last): layer2.0.conv2 -> layer2.0.bn2
        layer2_0_sn1_flat = layer2_0_sn1.flatten(0, 1)
        layer2_0_sn1_nhwc = layer2_0_sn1_flat.contiguous(memory_format=torch.channels_last)
        layer2_0_conv2 = self.layer2[0].conv2(layer2_0_sn1_nhwc)
        layer2_0_bn2 = self.layer2[0].bn2(layer2_0_conv2)
        layer2_0_sn2 = self.layer2[0].sn2(layer2_0_bn2.unflatten(0, (T, N)))
        layer2_0_downsample_2 = self.layer2[0].downsample[2](layer2_0_downsample_1.unflatten(0, (T, N)))
        # region7 (batched over T*N, channels-last): layer2.0.add_0 -> layer2.1.conv1 -> ...
        layer2_0_downsample_2_flat = layer2_0_downsample_2.flatten(0, 1)
        layer2_0_sn2_flat = layer2_0_sn2.flatten(0, 1)
        layer2_0_sn2_nhwc = layer2_0_sn2_flat.contiguous(memory_format=torch.channels_last)
        layer2_0_downsample_2_nhwc = layer2_0_downsample_2_flat.contiguous(memory_format=torch.channels_last)
        layer2_0_add_0 = layer2_0_sn2_nhwc + layer2_0_downsample_2_nhwc
        layer2_1_conv1 = self.layer2[1].conv1(layer2_0_add_0)
        layer2_1_bn1 = self.layer2[1].bn1(layer2_1_conv1)
        layer2_1_sn1 = self.layer2[1].sn1(layer2_1_bn1.unflatten(0, (T, N)))
        # region8 (batched over T*N, channels-last): layer2.1.conv2 -> layer2.1.bn2
        layer2_1_sn1_flat = layer2_1_sn1.flatten(0, 1)
        layer2_1_sn1_nhwc = layer2_1_sn1_flat.contiguous(memory_format=torch.channels_last)
        layer2_1_conv2 = self.layer2[1].conv2(layer2_1_sn1_nhwc)
        layer2_1_bn2 = self.layer2[1].bn2(layer2_1_conv2)
        layer2_1_sn2 = self.layer2[1].sn2(layer2_1_bn2.unflatten(0, (T, N)))
        # region9 (batched over T*N, channels-last): layer2.1.add_0 -> avgpool -> flatten_0 -> fc
        layer2_1_sn2_flat = layer2_1_sn2.flatten(0, 1)
        layer2_1_sn2_nhwc = layer2_1_sn2_flat.contiguous(memory_format=torch.channels_last)
        layer2_1_add_0 = layer2_1_sn2_nhwc + layer2_0_add_0
        avgpool = self.avgpool(layer2_1_add_0)
        flatten_0 = self.flatten_0(avgpool)
        fc = self.fc(flatten_0)
        return fc.unflatten(0, (T, N))

    def single_step_forward(self, img):
        """One time step: inputs img: [N, 3, 32, 32]."""
        self.check_input('img', img, (3, 32, 32), static=False)
        # region0: conv1 -> bn1
        conv1 = self.conv1(img)
        bn1 = self.bn1(conv1)
        sn1 = self.sn1(bn1)
        # region1: layer1.0.conv1 -> layer1.0.bn1
        layer1_0_conv1 = self.layer1[0].conv1(sn1)
        layer1_0_bn1 = self.layer1[0].bn1(layer1_0_conv1)
        layer1_0_sn1 = self.layer1[0].sn1(layer1_0_bn1)
        # region2: layer1.0.conv2 -> layer1.0.bn2
        layer1_0_conv2 = self.layer1[0].conv2(layer1_0_sn1)
        layer1_0_bn2 = self.layer1[0].bn2(layer1_0_conv2)
        layer1_0_sn2 = self.layer1[0].sn2(layer1_0_bn2)
        # region3: layer1.0.add_0 -> layer1.1.conv1 -> layer1.1.bn1
        layer1_0_add_0 = layer1_0_sn2 + sn1
        layer1_1_conv1 = self.layer1[1].conv1(layer1_0_add_0)
        layer1_1_bn1 = self.layer1[1].bn1(layer1_1_conv1)
        layer1_1_sn1 = self.layer1[1].sn1(layer1_1_bn1)
        # region4: layer1.1.conv2 -> layer1.1.bn2
        layer1_1_conv2 = self.layer1[1].conv2(layer1_1_sn1)
        layer1_1_bn2 = self.layer1[1].bn2(layer1_1_conv2)
        layer1_1_sn2 = self.layer1[1].sn2(layer1_1_bn2)
        # region5: layer1.1.add_0 -> layer2.0.conv1 -> layer2.0.bn1 -> layer2.0.downsample.0 -> ...
        layer1_1_add_0 = layer1_1_sn2 + layer1_0_add_0
        layer2_0_conv1 = self.layer2[0].conv1(layer1_1_add_0)
        layer2_0_bn1 = self.layer2[0].bn1(layer2_0_conv1)
        layer2_0_downsample_0 = self.layer2[0].downsample[0](layer1_1_add_0)
        layer2_0_downsample_1 = self.layer2[0].downsample[1](layer2_0_downsample_0)
        layer2_0_sn1 = self.layer2[0].sn1(layer2_0_bn1)
        # region6: layer2.0.conv2 -> layer2.0.bn2
        layer2_0_conv2 = self.layer2[0].conv2(layer2_0_sn1)
        layer2_0_bn2 = self.layer2[0].bn2(layer2_0_conv2)
        layer2_0_sn2 = self.layer2[0].sn2(layer2_0_bn2)
        layer2_0_downsample_2 = self.layer2[0].downsample[2](layer2_0_downsample_1)
        # region7: layer2.0.add_0 -> layer2.1.conv1 -> layer2.1.bn1
        layer2_0_add_0 = layer2_0_sn2 + layer2_0_downsample_2
        layer2_1_conv1 = self.layer2[1].conv1(layer2_0_add_0)
        layer2_1_bn1 = self.layer2[1].bn1(layer2_1_conv1)
        layer2_1_sn1 = self.layer2[1].sn1(layer2_1_bn1)
        # region8: layer2.1.conv2 -> layer2.1.bn2
        layer2_1_conv2 = self.layer2[1].conv2(layer2_1_sn1)
        layer2_1_bn2 = self.layer2[1].bn2(layer2_1_conv2)
        layer2_1_sn2 = self.layer2[1].sn2(layer2_1_bn2)
        # region9: layer2.1.add_0 -> avgpool -> flatten_0 -> fc
        layer2_1_add_0 = layer2_1_sn2 + layer2_0_add_0
        avgpool = self.avgpool(layer2_1_add_0)
        flatten_0 = self.flatten_0(avgpool)
        fc = self.fc(flatten_0)
        return fc
