# Compiled by snndsl 0.1.0 from 'examples/spiking_vgg11_bn.snn', model SpikingVGG11BN.
# Generated code: edit the .snn file and recompile rather than editing this file.
import torch
from torch import nn

from snndsl.runtime import fused, layer, neuron, surrogate
from snndsl.runtime.model import CompiledModule


# parameters: num_classes=10, hidden=512, pool=1, p=0.5
class SpikingVGG11BN(CompiledModule):
    """The spiking network `SpikingVGG11BN`: call it on [T, N, ...] (multi-step) or [N, ...] (single-step)."""

    def __init__(self, step_mode: str = "m", carry_state: bool = False):
        super().__init__(step_mode, carry_state)
        # features: group
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 3, padding=1),
            nn.BatchNorm2d(64),
            neuron.LIFNode(tau=2.0, surrogate_function=surrogate.ATan(), detach_reset=True),
            nn.MaxPool2d(2, 2),
            nn.Conv2d(64, 128, 3, padding=1),
            nn.BatchNorm2d(128),
            neuron.LIFNode(tau=2.0, surrogate_function=surrogate.ATan(), detach_reset=True),
            nn.MaxPool2d(2, 2),
            nn.Conv2d(128, 256, 3, padding=1),
            nn.BatchNorm2d(256),
            neuron.LIFNode(tau=2.0, surrogate_function=surrogate.ATan(), detach_reset=True),
            nn.Conv2d(256, 256, 3, padding=1),
            nn.BatchNorm2d(256),
            neuron.LIFNode(tau=2.0, surrogate_function=surrogate.ATan(), detach_reset=True),
            nn.MaxPool2d(2, 2),
            nn.Conv2d(256, 512, 3, padding=1),
            nn.BatchNorm2d(512),
            neuron.LIFNode(tau=2.0, surrogate_function=surrogate.ATan(), detach_reset=True),
            nn.Conv2d(512, 512, 3, padding=1),
            nn.BatchNorm2d(512),
            neuron.LIFNode(tau=2.0, surrogate_function=surrogate.ATan(), detach_reset=True),
            nn.MaxPool2d(2, 2),
            nn.Conv2d(512, 512, 3, padding=1),
            nn.BatchNorm2d(512),
            neuron.LIFNode(tau=2.0, surrogate_function=surrogate.ATan(), detach_reset=True),
            nn.Conv2d(512, 512, 3, padding=1),
            nn.BatchNorm2d(512),
            neuron.LIFNode(tau=2.0, surrogate_function=surrogate.ATan(), detach_reset=True),
            nn.MaxPool2d(2, 2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.flatten_0 = nn.Flatten()
        # classifier: group
        self.classifier = nn.Sequential(
            nn.Linear(512, 512),
            neuron.LIFNode(tau=2.0, surrogate_function=surrogate.ATan(), detach_reset=True),
            layer.Dropout(p=0.5),
            nn.Linear(512, 512),
            neuron.LIFNode(tau=2.0, surrogate_function=surrogate.ATan(), detach_reset=True),
            layer.Dropout(p=0.5),
            nn.Linear(512, 10),
        )
        # convolutions of channels-last regions keep their weights channels-last too
        self.features[0].to(memory_format=torch.channels_last)
        self.features[4].to(memory_format=torch.channels_last)
        self.features[8].to(memory_format=torch.channels_last)
        self.features[11].to(memory_format=torch.channels_last)
        self.features[15].to(memory_format=torch.channels_last)
        self.features[18].to(memory_format=torch.channels_last)
        self.features[22].to(memory_format=torch.channels_last)
        self.features[25].to(memory_format=torch.channels_last)

    def multi_step_forward(self, img, T: int | None = None):
        """Inputs img: [T, N, 3, 32, 32]."""
        self.check_input('img', img, (3, 32, 32), static=False)
        T, N = img.shape[:2]
        # region0 (batched over T*N, channels-last): features.0+features.1
        img_flat = img.flatten(0, 1)
        img_nhwc = img_flat.contiguous(memory_format=torch.channels_last)
        features_1 = fused.conv_bn(self.features[0], self.features[1], img_nhwc)
        features_2 = self.features[2](features_1.unflatten(0, (T, N)))
        # region1 (batched over T*N, channels-last): features.3 -> features.4+features.5
        features_2_flat = features_2.flatten(0, 1)
        features_2_nhwc = features_2_flat.contiguous(memory_format=torch.channels_last)
        features_3 = self.features[3](features_2_nhwc)
        features_5 = fused.conv_bn(self.features[4], self.features[5], features_3)
        features_6 = self.features[6](features_5.unflatten(0, (T, N)))
        # region2 (batched over T*N, channels-last): features.7 -> features.8+features.9
        features_6_flat = features_6.flatten(0, 1)
        features_6_nhwc = features_6_flat.contiguous(memory_format=torch.channels_last)
        features_7 = self.features[7](features_6_nhwc)
        features_9 = fused.conv_bn(self.features[8], self.features[9], features_7)
        features_10 = self.features[10](features_9.unflatten(0, (T, N)))
        # region3 (batched over T*N, channels-last): features.11+features.12
        features_10_flat = features_10.flatten(0, 1)
        features_10_nhwc = features_10_flat.contiguous(memory_format=torch.channels_last)
        features_12 = fused.conv_bn(self.features[11], self.features[12], features_10_nhwc)
        features_13 = self.features[13](features_12.unflatten(0, (T, N)))
        # region4 (batched over T*N, channels-last): features.14 -> features.15+features.16
        features_13_flat = features_13.flatten(0, 1)
        features_13_nhwc = features_13_flat.contiguous(memory_format=torch.channels_last)
        features_14 = self.features[14](features_13_nhwc)
        features_16 = fused.conv_bn(self.features[15], self.features[16], features_14)
        features_17 = self.features[17](features_16.unflatten(0, (T, N)))
        # region5 (batched over T*N, channels-last): features.18+features.19
        features_17_flat = features_17.flatten(0, 1)
        features_17_nhwc = features_17_flat.contiguous(memory_format=torch.channels_last)
        features_19 = fused.conv_bn(self.features[18], self.features[19], features_17_nhwc)
        features_20 = self.features[20](features_19.unflatten(0, (T, N)))
        # region6 (batched over T*N, channels-last): features.21 -> features.22+features.23
        features_20_flat = features_20.flatten(0, 1)
        features_20_nhwc = features_20_flat.contiguous(memory_format=torch.channels_last)
        features_21 = self.features[21](features_20_nhwc)
        features_23 = fused.conv_bn(self.features[22], self.features[23], features_21)
        features_24 = self.features[24](features_23.unflatten(0, (T, N)))
        # region7 (batched over T*N, channels-last): features.25+features.26
        features_24_flat = features_24.flatten(0, 1)
        features_24_nhwc = features_24_flat.contiguous(memory_format=torch.channels_last)
        features_26 = fused.conv_bn(self.features[25], self.features[26], features_24_nhwc)
        features_27 = self.features[27](features_26.unflatten(0, (T, N)))
        # region8 (batched over T*N, channels-last): features.28 -> avgpool -> flatten_0 -> ...
        features_27_flat = features_27.flatten(0, 1)
        features_27_nhwc = features_27_flat.contiguous(memory_format=torch.channels_last)
        features_28 = self.features[28](features_27_nhwc)
        avgpool = self.avgpool(features_28)
        flatten_0 = self.flatten_0(avgpool)
        classifier_0 = self.classifier[0](flatten_0)
        classifier_1 = self.classifier[1](classifier_0.unflatten(0, (T, N)))
        classifier_2 = self.classifier[2](classifier_1)
        # region9 (batched over T*N): classifier.3
        classifier_2_flat = classifier_2.flatten(0, 1)
        classifier_3 = self.classifier[3](classifier_2_flat)
        classifier_4 = self.classifier[4](classifier_3.unflatten(0, (T, N)))
        classifier_5 = self.classifier[5](classifier_4)
        # region10 (batched over T*N): classifier.6
        classifier_5_flat = classifier_5.flatten(0, 1)
        classifier_6 = self.classifier[6](classifier_5_flat)
        return classifier_6.unflatten(0, (T, N))

    def single_step_forward(self, img):
        """One time step: inputs img: [N, 3, 32, 32]."""
        self.check_input('img', img, (3, 32, 32), static=False)
        # region0: features.0+features.1
        features_1 = fused.conv_bn(self.features[0], self.features[1], img)
        features_2 = self.features[2](features_1)
        # region1: features.3 -> features.4+features.5
        features_3 = self.features[3](features_2)
        features_5 = fused.conv_bn(self.features[4], self.features[5], features_3)
        features_6 = self.features[6](features_5)
        # region2: features.7 -> features.8+features.9
        features_7 = self.features[7](features_6)
        features_9 = fused.conv_bn(self.features[8], self.features[9], features_7)
        features_10 = self.features[10](features_9)
        # region3: features.11+features.12
        features_12 = fused.conv_bn(self.features[11], self.features[12], features_10)
        features_13 = self.features[13](features_12)
        # region4: features.14 -> features.15+features.16
        features_14 = self.features[14](features_13)
        features_16 = fused.conv_bn(self.features[15], self.features[16], features_14)
        features_17 = self.features[17](features_16)
        # region5: features.18+features.19
        features_19 = fused.conv_bn(self.features[18], self.features[19], features_17)
        features_20 = self.features[20](features_19)
        # region6: features.21 -> features.22+features.23
        features_21 = self.features[21](features_20)
        features_23 = fused.conv_bn(self.features[22], self.features[23], features_21)
        features_24 = self.features[24](features_23)
        # region7: features.25+features.26
        features_26 = fused.conv_bn(self.features[25], self.features[26], features_24)
        features_27 = self.features[27](features_26)
        # region8: features.28 -> avgpool -> flatten_0 -> classifier.0
        features_28 = self.features[28](features_27)
        avgpool = self.avgpool(features_28)
        flatten_0 = self.flatten_0(avgpool)
        classifier_0 = self.classifier[0](flatten_0)
        classifier_1 = self.classifier[1](classifier_0)
        classifier_2 = self.classifier[2](classifier_1)
        # region9: classifier.3
        classifier_3 = self.classifier[3](classifier_2)
        classifier_4 = self.classifier[4](classifier_3)
        classifier_5 = self.classifier[5](classifier_4)
        # region10: classifier.6
        classifier_6 = self.classifier[6](classifier_5)
        return classifier_6
