# Compiled by snndsl 0.1.0 from 'examples/qkformer.snn', model QKFormer.
# Generated code: edit the .snn file and recompile rather than editing this file.
import torch
from torch import nn

from snndsl.runtime import fused, neuron
from snndsl.runtime.model import Block, CompiledModule


# parameters: num_classes=10, e=64
class QKFormer(CompiledModule):
    """The spiking network `QKFormer`: call it on [T, N, ...] (multi-step) or [N, ...] (single-step)."""

    def __init__(self, step_mode: str = "m", carry_state: bool = False):
        super().__init__(step_mode, carry_state)
        # patch_embed1: block PatchEmbedInit(cin=3, c=16)
        self.patch_embed1 = Block('PatchEmbedInit')
        self.patch_embed1.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.patch_embed1.bn1 = nn.BatchNorm2d(8)
        self.patch_embed1.pool1 = nn.MaxPool2d(3, stride=2, padding=1)
        self.patch_embed1.lif1 = neuron.LIFNode()
        self.patch_embed1.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.patch_embed1.bn2 = nn.BatchNorm2d(16)
        self.patch_embed1.pool2 = nn.MaxPool2d(3, stride=2, padding=1)
        self.patch_embed1.lif2 = neuron.LIFNode()
        self.patch_embed1.conv3 = nn.Conv2d(16, 16, 3, padding=1)
        self.patch_embed1.bn3 = nn.BatchNorm2d(16)
        self.patch_embed1.lif3 = neuron.LIFNode()
        # patch_embed1.shortcut: group
        self.patch_embed1.shortcut = nn.Sequential(
            nn.Conv2d(8, 16, 1, stride=2),
            nn.BatchNorm2d(16),
            neuron.LIFNode(),
        )
        # stage1: QKBlock(dim=16, heads=1, side=8) * 1
        self.stage1 = nn.Sequential(Block('QKBlock'))
        # stage1.0.attn: block QKTA(dim=16, heads=1)
        self.stage1[0].attn = Block('QKTA')
        # stage1.0.attn.qk_conv_bn: group
        self.stage1[0].attn.qk_conv_bn = nn.Sequential(nn.Conv1d(16, 32, 1, bias=False), nn.BatchNorm1d(32))
        self.stage1[0].attn.qk_lif = neuron.LIFNode(tau=2.0, detach_reset=True)
        self.stage1[0].attn.attn_lif = neuron.LIFNode(tau=2.0, v_threshold=0.5, detach_reset=True)
        # stage1.0.attn.proj_conv_bn: group
        self.stage1[0].attn.proj_conv_bn = nn.Sequential(nn.Conv1d(16, 16, 1, bias=False), nn.BatchNorm1d(16))
        self.stage1[0].attn.proj_lif = neuron.LIFNode(tau=2.0, detach_reset=True)
        # stage1.0.mlp: block MLP(dim=16, hidden=64)
        self.stage1[0].mlp = Block('MLP')
        self.stage1[0].mlp.fc1 = nn.Conv1d(16, 64, 1)
        self.stage1[0].mlp.bn1 = nn.BatchNorm1d(64)
        self.stage1[0].mlp.lif1 = neuron.LIFNode()
        self.stage1[0].mlp.fc2 = nn.Conv1d(64, 16, 1)
        self.stage1[0].mlp.bn2 = nn.BatchNorm1d(16)
        self.stage1[0].mlp.lif2 = neuron.LIFNode()
        # patch_embed2: block PatchEmbedStage(cin=16, c=32)
        self.patch_embed2 = Block('PatchEmbedStage')
        self.patch_embed2.conv1 = nn.Conv2d(16, 32, 3, padding=1)
        self.patch_embed2.bn1 = nn.BatchNorm2d(32)
        self.patch_embed2.pool = nn.MaxPool2d(3, stride=2, padding=1)
        self.patch_embed2.lif1 = neuron.LIFNode()
        self.patch_embed2.conv2 = nn.Conv2d(32, 32, 3, padding=1)
        self.patch_embed2.bn2 = nn.BatchNorm2d(32)
        self.patch_embed2.lif2 = neuron.LIFNode()
        # patch_embed2.shortcut: group
        self.patch_embed2.shortcut = nn.Sequential(
            nn.Conv2d(16, 32, 1, stride=2),
            nn.BatchNorm2d(32),
            neuron.LIFNode(),
        )
        # stage2: QKBlock(dim=32, heads=2, side=4) * 1
        self.stage2 = nn.Sequential(Block('QKBlock'))
        # stage2.0.attn: block QKTA(dim=32, heads=2)
        self.stage2[0].attn = Block('QKTA')
        # stage2.0.attn.qk_conv_bn: group
        self.stage2[0].attn.qk_conv_bn = nn.Sequential(nn.Conv1d(32, 64, 1, bias=False), nn.BatchNorm1d(64))
        self.stage2[0].attn.qk_lif = neuron.LIFNode(tau=2.0, detach_reset=True)
        self.stage2[0].attn.attn_lif = neuron.LIFNode(tau=2.0, v_threshold=0.5, detach_reset=True)
        # stage2.0.attn.proj_conv_bn: group
        self.stage2[0].attn.proj_conv_bn = nn.Sequential(nn.Conv1d(32, 32, 1, bias=False), nn.BatchNorm1d(32))
        self.stage2[0].attn.proj_lif = neuron.LIFNode(tau=2.0, detach_reset=True)
        # stage2.0.mlp: block MLP(dim=32, hidden=128)
        self.stage2[0].mlp = Block('MLP')
        self.stage2[0].mlp.fc1 = nn.Conv1d(32, 128, 1)
        self.stage2[0].mlp.bn1 = nn.BatchNorm1d(128)
        self.stage2[0].mlp.lif1 = neuron.LIFNode()
        self.stage2[0].mlp.fc2 = nn.Conv1d(128, 32, 1)
        self.stage2[0].mlp.bn2 = nn.BatchNorm1d(32)
        self.stage2[0].mlp.lif2 = neuron.LIFNode()
        # patch_embed3: block PatchEmbedStage(cin=32, c=64)
        self.patch_embed3 = Block('PatchEmbedStage')
        self.patch_embed3.conv1 = nn.Conv2d(32, 64, 3, padding=1)
        self.patch_embed3.bn1 = nn.BatchNorm2d(64)
        self.patch_embed3.pool = nn.MaxPool2d(3, stride=2, padding=1)
        self.patch_embed3.lif1 = neuron.LIFNode()
        self.patch_embed3.conv2 = nn.Conv2d(64, 64, 3, padding=1)
        self.patch_embed3.bn2 = nn.BatchNorm2d(64)
        self.patch_embed3.lif2 = neuron.LIFNode()
        # patch_embed3.shortcut: group
        self.patch_embed3.shortcut = nn.Sequential(
            nn.Conv2d(32, 64, 1, stride=2),
            nn.BatchNorm2d(64),
            neuron.LIFNode(),
        )
        # stage3: SSABlock(dim=64, heads=2, side=2) * 1
        self.stage3 = nn.Sequential(Block('SSABlock'))
        # stage3.0.attn: block SSA(dim=64, heads=2)
        self.stage3[0].attn = Block('SSA')
        # stage3.0.attn.qkv_conv_bn: group
        self.stage3[0].attn.qkv_conv_bn = nn.Sequential(nn.Conv1d(64, 192, 1, bias=False), nn.BatchNorm1d(192))
        self.stage3[0].attn.qkv_lif = neuron.LIFNode(tau=2.0, detach_reset=True)
        self.stage3[0].attn.attn_lif = neuron.LIFNode(tau=2.0, v_threshold=0.5, detach_reset=True)
        # stage3.0.attn.proj_conv_bn: group
        self.stage3[0].attn.proj_conv_bn = nn.Sequential(nn.Conv1d(64, 64, 1, bias=False), nn.BatchNorm1d(64))
        self.stage3[0].attn.proj_lif = neuron.LIFNode(tau=2.0, detach_reset=True)
        # stage3.0.mlp: block MLP(dim=64, hidden=256)
        self.stage3[0].mlp = Block('MLP')
        self.stage3[0].mlp.fc1 = nn.Conv1d(64, 256, 1)
        self.stage3[0].mlp.bn1 = nn.BatchNorm1d(256)
        self.stage3[0].mlp.lif1 = neuron.LIFNode()
        self.stage3[0].mlp.fc2 = nn.Conv1d(256, 64, 1)
        self.stage3[0].mlp.bn2 = nn.BatchNorm1d(64)
        self.stage3[0].mlp.lif2 = neuron.LIFNode()
        self.head = nn.Linear(64, 10)
        # convolutions of channels-last regions keep their weights channels-last too
        self.patch_embed1.conv1.to(memory_format=torch.channels_last)
        self.patch_embed1.conv2.to(memory_format=torch.channels_last)
        self.patch_embed1.conv3.to(memory_format=torch.channels_last)
        self.patch_embed1.shortcut[0].to(memory_format=torch.channels_last)
        self.patch_embed2.conv1.to(memory_format=torch.channels_last)
        self.patch_embed2.conv2.to(memory_format=torch.channels_last)
        self.patch_embed2.shortcut[0].to(memory_format=torch.channels_last)
        self.patch_embed3.conv1.to(memory_format=torch.channels_last)
        self.patch_embed3.conv2.to(memory_format=torch.channels_last)
        self.patch_embed3.shortcut[0].to(memory_format=torch.channels_last)

    def multi_step_forward(self, img, T: int | None = None):
        """Inputs img: [T, N, 3, 32, 32]."""
        self.check_input('img', img, (3, 32, 32), static=False)
        T, N = img.shape[:2]
        # region0 (batched over T*N, channels-last): patch_embed1.conv1 -> patch_embed1.bn1 -> ...
        img_flat = img.flatten(0, 1)
        img_nhwc = img_flat.contiguous(memory_format=torch.channels_last)
        patch_embed1_conv1 = self.patch_embed1.conv1(img_nhwc)
        patch_embed1_bn1 = self.patch_embed1.bn1(patch_embed1_conv1)
        patch_embed1_pool1 = self.patch_embed1.pool1(patch_embed1_bn1)
        patch_embed1_lif1 = self.patch_embed1.lif1(patch_embed1_pool1.unflatten(0, (T, N)))
        # region1 (batched over T*N, channels-last): patch_embed1.conv2 -> patch_embed1.bn2 -> ...
        patch_embed1_lif1_flat = patch_embed1_lif1.flatten(0, 1)
        patch_embed1_lif1_nhwc = patch_embed1_lif1_flat.contiguous(memory_format=torch.channels_last)
        patch_embed1_conv2 = self.patch_embed1.conv2(patch_embed1_lif1_nhwc)
        patch_embed1_bn2 = self.patch_embed1.bn2(patch_embed1_conv2)
        patch_embed1_pool2 = self.patch_embed1.pool2(patch_embed1_bn2)
        patch_embed1_lif2 = self.patch_embed1.lif2(patch_embed1_pool2.unflatten(0, (T, N)))
        # region2 (batched over T*N, channels-last): patch_embed1.conv3 -> patch_embed1.bn3
        patch_embed1_lif2_flat = patch_embed1_lif2.flatten(0, 1)
        patch_embed1_lif2_nhwc = patch_embed1_lif2_flat.contiguous(memory_format=torch.channels_last)
        patch_embed1_conv3 = self.patch_embed1.conv3(patch_embed1_lif2_nhwc)
        patch_embed1_bn3 = self.patch_embed1.bn3(patch_embed1_conv3)
        patch_embed1_lif3 = self.patch_embed1.lif3(patch_embed1_bn3.unflatten(0, (T, N)))
        # region3 (batched over T*N, channels-last): patch_embed1.shortcut.0 -> ...
        patch_embed1_shortcut_0 = self.patch_embed1.shortcut[0](patch_embed1_lif1_nhwc)
        patch_embed1_shortcut_1 = self.patch_embed1.shortcut[1](patch_embed1_shortcut_0)
        patch_embed1_shortcut_2 = self.patch_embed1.shortcut[2](patch_embed1_shortcut_1.unflatten(0, (T, N)))
        # region4 (batched over T*N, channels-last): patch_embed1.add_0 -> stage1.0.reshape_0 -> ...
        patch_embed1_shortcut_2_flat = patch_embed1_shortcut_2.flatten(0, 1)
        patch_embed1_lif3_flat = patch_embed1_lif3.flatten(0, 1)
        patch_embed1_add_0 = patch_embed1_lif3_flat + patch_embed1_shortcut_2_flat
        stage1_0_reshape_0 = patch_embed1_add_0.reshape(patch_embed1_add_0.shape[0], 16, 64)
        stage1_0_attn_qk_conv_bn_0 = fused.pointwise_conv1d(self.stage1[0].attn.qk_conv_bn[0], stage1_0_reshape_0)
        stage1_0_attn_qk_conv_bn_1 = fused.tokens_batch_norm(self.stage1[0].attn.qk_conv_bn[1], stage1_0_attn_qk_conv_bn_0)
        stage1_0_attn_qk_lif = self.stage1[0].attn.qk_lif(stage1_0_attn_qk_conv_bn_1.unflatten(0, (T, N)))
        # region5 (batched over T*N): stage1.0.attn.reshape_0 -> stage1.0.attn.chunk_1.0 -> ...
        stage1_0_attn_qk_lif_flat = stage1_0_attn_qk_lif.flatten(0, 1)
        stage1_0_attn_reshape_0 = stage1_0_attn_qk_lif_flat.reshape(stage1_0_attn_qk_lif_flat.shape[0], 2, 16, 64)
        stage1_0_attn_chunk_1_0 = stage1_0_attn_reshape_0.chunk(2, 1)[0]
        stage1_0_attn_chunk_1_1 = stage1_0_attn_reshape_0.chunk(2, 1)[1]
        stage1_0_attn_sum_2 = stage1_0_attn_chunk_1_0.sum(2, keepdim=True)
        stage1_0_attn_attn_lif = self.stage1[0].attn.attn_lif(stage1_0_attn_sum_2.unflatten(0, (T, N)))
        # region6 (batched over T*N, channels-last): stage1.0.attn.mul_3 -> ...
        stage1_0_attn_attn_lif_flat = stage1_0_attn_attn_lif.flatten(0, 1)
        stage1_0_attn_mul_3 = stage1_0_attn_attn_lif_flat * stage1_0_attn_chunk_1_1
        stage1_0_attn_reshape_4 = stage1_0_attn_mul_3.reshape(stage1_0_attn_mul_3.shape[0], 16, 64)
        stage1_0_attn_proj_conv_bn_0 = fused.pointwise_conv1d(self.stage1[0].attn.proj_conv_bn[0], stage1_0_attn_reshape_4)
        stage1_0_attn_proj_conv_bn_1 = fused.tokens_batch_norm(self.stage1[0].attn.proj_conv_bn[1], stage1_0_attn_proj_conv_bn_0)
        stage1_0_attn_proj_lif = self.stage1[0].attn.proj_lif(stage1_0_attn_proj_conv_bn_1.unflatten(0, (T, N)))
        # region7 (batched over T*N, channels-last): stage1.0.add_1 -> stage1.0.mlp.fc1 -> ...
        stage1_0_attn_proj_lif_flat = stage1_0_attn_proj_lif.flatten(0, 1)
        stage1_0_add_1 = stage1_0_reshape_0 + stage1_0_attn_proj_lif_flat
        stage1_0_mlp_fc1 = fused.pointwise_conv1d(self.stage1[0].mlp.fc1, stage1_0_add_1)
        stage1_0_mlp_bn1 = fused.tokens_batch_norm(self.stage1[0].mlp.bn1, stage1_0_mlp_fc1)
        stage1_0_mlp_lif1 = self.stage1[0].mlp.lif1(stage1_0_mlp_bn1.unflatten(0, (T, N)))
        # region8 (batched over T*N, channels-last): stage1.0.mlp.fc2 -> stage1.0.mlp.bn2
        stage1_0_mlp_lif1_flat = stage1_0_mlp_lif1.flatten(0, 1)
        stage1_0_mlp_fc2 = fused.pointwise_conv1d(self.stage1[0].mlp.fc2, stage1_0_mlp_lif1_flat)
        stage1_0_mlp_bn2 = fused.tokens_batch_norm(self.stage1[0].mlp.bn2, stage1_0_mlp_fc2)
        stage1_0_mlp_lif2 = self.stage1[0].mlp.lif2(stage1_0_mlp_bn2.unflatten(0, (T, N)))
        # region9 (batched over T*N, channels-last): stage1.0.add_2 -> stage1.0.reshape_3 -> ...
        stage1_0_mlp_lif2_flat = stage1_0_mlp_lif2.flatten(0, 1)
        stage1_0_add_2 = stage1_0_add_1 + stage1_0_mlp_lif2_flat
        stage1_0_reshape_3 = stage1_0_add_2.reshape(stage1_0_add_2.shape[0], 16, 8, 8)
        patch_embed2_conv1 = self.patch_embed2.conv1(stage1_0_reshape_3)
        patch_embed2_bn1 = self.patch_embed2.bn1(patch_embed2_conv1)
        patch_embed2_pool = self.patch_embed2.pool(patch_embed2_bn1)
        patch_embed2_shortcut_0 = self.patch_embed2.shortcut[0](stage1_0_reshape_3)
        patch_embed2_shortcut_1 = self.patch_embed2.shortcut[1](patch_embed2_shortcut_0)
        patch_embed2_lif1 = self.patch_embed2.lif1(patch_embed2_pool.unflatten(0, (T, N)))
        # region10 (batched over T*N, channels-last): patch_embed2.conv2 -> patch_embed2.bn2
        patch_embed2_lif1_flat = patch_embed2_lif1.flatten(0, 1)
        patch_embed2_lif1_nhwc = patch_embed2_lif1_flat.contiguous(memory_format=torch.channels_last)
        patch_embed2_conv2 = self.patch_embed2.conv2(patch_embed2_lif1_nhwc)
        patch_embed2_bn2 = self.patch_embed2.bn2(patch_embed2_conv2)
        patch_embed2_lif2 = self.patch_embed2.lif2(patch_embed2_bn2.unflatten(0, (T, N)))
        patch_embed2_shortcut_2 = self.patch_embed2.shortcut[2](patch_embed2_shortcut_1.unflatten(0, (T, N)))
        # region11 (batched over T*N, channels-last): patch_embed2.add_0 -> ...
        patch_embed2_shortcut_2_flat = patch_embed2_shortcut_2.flatten(0, 1)
        patch_embed2_lif2_flat = patch_embed2_lif2.flatten(0, 1)
        patch_embed2_add_0 = patch_embed2_lif2_flat + patch_embed2_shortcut_2_flat
        stage2_0_reshape_0 = patch_embed2_add_0.reshape(patch_embed2_add_0.shape[0], 32, 16)
        stage2_0_attn_qk_conv_bn_0 = fused.pointwise_conv1d(self.stage2[0].attn.qk_conv_bn[0], stage2_0_reshape_0)
        stage2_0_attn_qk_conv_bn_1 = fused.tokens_batch_norm(self.stage2[0].attn.qk_conv_bn[1], stage2_0_attn_qk_conv_bn_0)
        stage2_0_attn_qk_lif = self.stage2[0].attn.qk_lif(stage2_0_attn_qk_conv_bn_1.unflatten(0, (T, N)))
        # region12 (batched over T*N): stage2.0.attn.reshape_0 -> stage2.0.attn.chunk_1.0 -> ...
        stage2_0_attn_qk_lif_flat = stage2_0_attn_qk_lif.flatten(0, 1)
        stage2_0_attn_reshape_0 = stage2_0_attn_qk_lif_flat.reshape(stage2_0_attn_qk_lif_flat.shape[0], 4, 16, 16)
        stage2_0_attn_chunk_1_0 = stage2_0_attn_reshape_0.chunk(2, 1)[0]
        stage2_0_attn_chunk_1_1 = stage2_0_attn_reshape_0.chunk(2, 1)[1]
        stage2_0_attn_sum_2 = stage2_0_attn_chunk_1_0.sum(2, keepdim=True)
        stage2_0_attn_attn_lif = self.stage2[0].attn.attn_lif(stage2_0_attn_sum_2.unflatten(0, (T, N)))
        # region13 (batched over T*N, channels-last): stage2.0.attn.mul_3 -> ...
        stage2_0_attn_attn_lif_flat = stage2_0_attn_attn_lif.flatten(0, 1)
        stage2_0_attn_mul_3 = stage2_0_attn_attn_lif_flat * stage2_0_attn_chunk_1_1
        stage2_0_attn_reshape_4 = stage2_0_attn_mul_3.reshape(stage2_0_attn_mul_3.shape[0], 32, 16)
        stage2_0_attn_proj_conv_bn_0 = fused.pointwise_conv1d(self.stage2[0].attn.proj_conv_bn[0], stage2_0_attn_reshape_4)
        stage2_0_attn_proj_conv_bn_1 = fused.tokens_batch_norm(self.stage2[0].attn.proj_conv_bn[1], stage2_0_attn_proj_conv_bn_0)
        stage2_0_attn_proj_lif = self.stage2[0].attn.proj_lif(stage2_0_attn_proj_conv_bn_1.unflatten(0, (T, N)))
        # region14 (batched over T*N, channels-last): stage2.0.add_1 -> stage2.0.mlp.fc1 -> ...
        stage2_0_attn_proj_lif_flat = stage2_0_attn_proj_lif.flatten(0, 1)
        stage2_0_add_1 = stage2_0_reshape_0 + stage2_0_attn_proj_lif_flat
        stage2_0_mlp_fc1 = fused.pointwise_conv1d(self.stage2[0].mlp.fc1, stage2_0_add_1)
        stage2_0_mlp_bn1 = fused.tokens_batch_norm(self.stage2[0].mlp.bn1, stage2_0_mlp_fc1)
        stage2_0_mlp_lif1 = self.stage2[0].mlp.lif1(stage2_0_mlp_bn1.unflatten(0, (T, N)))
        # region15 (batched over T*N, channels-last): stage2.0.mlp.fc2 -> stage2.0.mlp.bn2
        stage2_0_mlp_lif1_flat = stage2_0_mlp_lif1.flatten(0, 1)
        stage2_0_mlp_fc2 = fused.pointwise_conv1d(self.stage2[0].mlp.fc2, stage2_0_mlp_lif1_flat)
        stage2_0_mlp_bn2 = fused.tokens_batch_norm(self.stage2[0].mlp.bn2, stage2_0_mlp_fc2)
        stage2_0_mlp_lif2 = self.stage2[0].mlp.lif2(stage2_0_mlp_bn2.unflatten(0, (T, N)))
        # region16 (batched over T*N, channels-last): stage2.0.add_2 -> stage2.0.reshape_3 -> ...
        stage2_0_mlp_lif2_flat = stage2_0_mlp_lif2.flatten(0, 1)
        stage2_0_add_2 = stage2_0_add_1 + stage2_0_mlp_lif2_flat
        stage2_0_reshape_3 = stage2_0_add_2.reshape(stage2_0_add_2.shape[0], 32, 4, 4)
        patch_embed3_conv1 = self.patch_embed3.conv1(stage2_0_reshape_3)
        patch_embed3_bn1 = self.patch_embed3.bn1(patch_embed3_conv1)
        patch_embed3_pool = self.patch_embed3.pool(patch_embed3_bn1)
        patch_embed3_shortcut_0 = self.patch_embed3.shortcut[0](stage2_0_reshape_3)
        patch_embed3_shortcut_1 = self.patch_embed3.shortcut[1](patch_embed3_shortcut_0)
        patch_embed3_lif1 = self.patch_embed3.lif1(patch_embed3_pool.unflatten(0, (T, N)))
        # region17 (batched over T*N, channels-last): patch_embed3.conv2 -> patch_embed3.bn2
        patch_embed3_lif1_flat = patch_embed3_lif1.flatten(0, 1)
        patch_embed3_lif1_nhwc = patch_embed3_lif1_flat.contiguous(memory_format=torch.channels_last)
        patch_embed3_conv2 = self.patch_embed3.conv2(patch_embed3_lif1_nhwc)
        patch_embed3_bn2 = self.patch_embed3.bn2(patch_embed3_conv2)
        patch_embed3_lif2 = self.patch_embed3.lif2(patch_embed3_bn2.unflatten(0, (T, N)))
        patch_embed3_shortcut_2 = self.patch_embed3.shortcut[2](patch_embed3_shortcut_1.unflatten(0, (T, N)))
        # region18 (batched over T*N, channels-last): patch_embed3.add_0 -> ...
        patch_embed3_shortcut_2_flat = patch_embed3_shortcut_2.flatten(0, 1)
        patch_embed3_lif2_flat = patch_embed3_lif2.flatten(0, 1)
        patch_embed3_add_0 = patch_embed3_lif2_flat + patch_embed3_shortcut_2_flat
        stage3_0_reshape_0 = patch_embed3_add_0.reshape(patch_embed3_add_0.shape[0], 64, 4)
        stage3_0_attn_qkv_conv_bn_0 = fused.pointwise_conv1d(self.stage3[0].attn.qkv_conv_bn[0], stage3_0_reshape_0)
        stage3_0_attn_qkv_conv_bn_1 = fused.tokens_batch_norm(self.stage3[0].attn.qkv_conv_bn[1], stage3_0_attn_qkv_conv_bn_0)
        stage3_0_attn_qkv_lif = self.stage3[0].attn.qkv_lif(stage3_0_attn_qkv_conv_bn_1.unflatten(0, (T, N)))
        # region19 (batched over T*N): stage3.0.attn.reshape_0 -> stage3.0.attn.chunk_1.0 -> ...
        stage3_0_attn_qkv_lif_flat = stage3_0_attn_qkv_lif.flatten(0, 1)
        stage3_0_attn_reshape_0 = stage3_0_attn_qkv_lif_flat.reshape(stage3_0_attn_qkv_lif_flat.shape[0], 6, 32, 4)
        stage3_0_attn_chunk_1_0 = stage3_0_attn_reshape_0.chunk(3, 1)[0]
        stage3_0_attn_chunk_1_1 = stage3_0_attn_reshape_0.chunk(3, 1)[1]
        stage3_0_attn_chunk_1_2 = stage3_0_attn_reshape_0.chunk(3, 1)[2]
        stage3_0_attn_transpose_2 = stage3_0_attn_chunk_1_1.transpose(-2, -1)
        stage3_0_attn_matmul_3 = stage3_0_attn_chunk_1_2 @ stage3_0_attn_transpose_2
        stage3_0_attn_matmul_4 = stage3_0_attn_matmul_3 @ stage3_0_attn_chunk_1_0
        stage3_0_attn_scale_5 = stage3_0_attn_matmul_4 * 0.125
        stage3_0_attn_attn_lif = self.stage3[0].attn.attn_lif(stage3_0_attn_scale_5.unflatten(0, (T, N)))
        # region20 (batched over T*N, channels-last): stage3.0.attn.reshape_6 -> ...
        stage3_0_attn_attn_lif_flat = stage3_0_attn_attn_lif.flatten(0, 1)
        stage3_0_attn_reshape_6 = stage3_0_attn_attn_lif_flat.reshape(stage3_0_attn_attn_lif_flat.shape[0], 64, 4)
        stage3_0_attn_proj_conv_bn_0 = fused.pointwise_conv1d(self.stage3[0].attn.proj_conv_bn[0], stage3_0_attn_reshape_6)
        stage3_0_attn_proj_conv_bn_1 = fused.tokens_batch_norm(self.stage3[0].attn.proj_conv_bn[1], stage3_0_attn_proj_conv_bn_0)
        stage3_0_attn_proj_lif = self.stage3[0].attn.proj_lif(stage3_0_attn_proj_conv_bn_1.unflatten(0, (T, N)))
        # region21 (batched over T*N, channels-last): stage3.0.add_1 -> stage3.0.mlp.fc1 -> ...
        stage3_0_attn_proj_lif_flat = stage3_0_attn_proj_lif.flatten(0, 1)
        stage3_0_add_1 = stage3_0_reshape_0 + stage3_0_attn_proj_lif_flat
        stage3_0_mlp_fc1 = fused.pointwise_conv1d(self.stage3[0].mlp.fc1, stage3_0_add_1)
        stage3_0_mlp_bn1 = fused.tokens_batch_norm(self.stage3[0].mlp.bn1, stage3_0_mlp_fc1)
        stage3_0_mlp_lif1 = self.stage3[0].mlp.lif1(stage3_0_mlp_bn1.unflatten(0, (T, N)))
        # region22 (batched over T*N, channels-last): stage3.0.mlp.fc2 -> stage3.0.mlp.bn2
        stage3_0_mlp_lif1_flat = stage3_0_mlp_lif1.flatten(0, 1)
        stage3_0_mlp_fc2 = fused.pointwise_conv1d(self.stage3[0].mlp.fc2, stage3_0_mlp_lif1_flat)
        stage3_0_mlp_bn2 = fused.tokens_batch_norm(self.stage3[0].mlp.bn2, stage3_0_mlp_fc2)
        stage3_0_mlp_lif2 = self.stage3[0].mlp.lif2(stage3_0_mlp_bn2.unflatten(0, (T, N)))
        # region23 (batched over T*N): stage3.0.add_2 -> stage3.0.reshape_3 -> reshape_0 -> ...
        stage3_0_mlp_lif2_flat = stage3_0_mlp_lif2.flatten(0, 1)
        stage3_0_add_2 = stage3_0_add_1 + stage3_0_mlp_lif2_flat
        stage3_0_reshape_3 = stage3_0_add_2.reshape(stage3_0_add_2.shape[0], 64, 2, 2)
        reshape_0 = stage3_0_reshape_3.reshape(stage3_0_reshape_3.shape[0], 64, 4)
        mean_1 = reshape_0.mean(-1)
        head = self.head(mean_1)
        return head.unflatten(0, (T, N))

    def single_step_forward(self, img):
        """One time step: inputs img: [N, 3, 32, 32]."""
        self.check_input('img', img, (3, 32, 32), static=False)
        # region0: patch_embed1.conv1 -> patch_embed1.bn1 -> patch_embed1.pool1
        patch_embed1_conv1 = self.patch_embed1.conv1(img)
        patch_embed1_bn1 = self.patch_embed1.bn1(patch_embed1_conv1)
        patch_embed1_pool1 = self.patch_embed1.pool1(patch_embed1_bn1)
        patch_embed1_lif1 = self.patch_embed1.lif1(patch_embed1_pool1)
        # region1: patch_embed1.conv2 -> patch_embed1.bn2 -> patch_embed1.pool2
        patch_embed1_conv2 = self.patch_embed1.conv2(patch_embed1_lif1)
        patch_embed1_bn2 = self.patch_embed1.bn2(patch_embed1_conv2)
        patch_embed1_pool2 = self.patch_embed1.pool2(patch_embed1_bn2)
        patch_embed1_lif2 = self.patch_embed1.lif2(patch_embed1_pool2)
        # region2: patch_embed1.conv3 -> patch_embed1.bn3
        patch_embed1_conv3 = self.patch_embed1.conv3(patch_embed1_lif2)
        patch_embed1_bn3 = self.patch_embed1.bn3(patch_embed1_conv3)
        patch_embed1_lif3 = self.patch_embed1.lif3(patch_embed1_bn3)
        # region3: patch_embed1.shortcut.0 -> patch_embed1.shortcut.1
        patch_embed1_shortcut_0 = self.patch_embed1.shortcut[0](patch_embed1_lif1)
        patch_embed1_shortcut_1 = self.patch_embed1.shortcut[1](patch_embed1_shortcut_0)
        patch_embed1_shortcut_2 = self.patch_embed1.shortcut[2](patch_embed1_shortcut_1)
        # region4: patch_embed1.add_0 -> stage1.0.reshape_0 -> stage1.0.attn.qk_conv_bn.0 -> ...
        patch_embed1_add_0 = patch_embed1_lif3 + patch_embed1_shortcut_2
        stage1_0_reshape_0 = patch_embed1_add_0.reshape(patch_embed1_add_0.shape[0], 16, 64)
        stage1_0_attn_qk_conv_bn_0 = fused.pointwise_conv1d(self.stage1[0].attn.qk_conv_bn[0], stage1_0_reshape_0)
        stage1_0_attn_qk_conv_bn_1 = fused.tokens_batch_norm(self.stage1[0].attn.qk_conv_bn[1], stage1_0_attn_qk_conv_bn_0)
        stage1_0_attn_qk_lif = self.stage1[0].attn.qk_lif(stage1_0_attn_qk_conv_bn_1)
        # region5: stage1.0.attn.reshape_0 -> stage1.0.attn.chunk_1.0 -> ...
        stage1_0_attn_reshape_0 = stage1_0_attn_qk_lif.reshape(stage1_0_attn_qk_lif.shape[0], 2, 16, 64)
        stage1_0_attn_chunk_1_0 = stage1_0_attn_reshape_0.chunk(2, 1)[0]
        stage1_0_attn_chunk_1_1 = stage1_0_attn_reshape_0.chunk(2, 1)[1]
        stage1_0_attn_sum_2 = stage1_0_attn_chunk_1_0.sum(2, keepdim=True)
        stage1_0_attn_attn_lif = self.stage1[0].attn.attn_lif(stage1_0_attn_sum_2)
        # region6: stage1.0.attn.mul_3 -> stage1.0.attn.reshape_4 -> ...
        stage1_0_attn_mul_3 = stage1_0_attn_attn_lif * stage1_0_attn_chunk_1_1
        stage1_0_attn_reshape_4 = stage1_0_attn_mul_3.reshape(stage1_0_attn_mul_3.shape[0], 16, 64)
        stage1_0_attn_proj_conv_bn_0 = fused.pointwise_conv1d(self.stage1[0].attn.proj_conv_bn[0], stage1_0_attn_reshape_4)
        stage1_0_attn_proj_conv_bn_1 = fused.tokens_batch_norm(self.stage1[0].attn.proj_conv_bn[1], stage1_0_attn_proj_conv_bn_0)
        stage1_0_attn_proj_lif = self.stage1[0].attn.proj_lif(stage1_0_attn_proj_conv_bn_1)
        # region7: stage1.0.add_1 -> stage1.0.mlp.fc1 -> stage1.0.mlp.bn1
        stage1_0_add_1 = stage1_0_reshape_0 + stage1_0_attn_proj_lif
        stage1_0_mlp_fc1 = fused.pointwise_conv1d(self.stage1[0].mlp.fc1, stage1_0_add_1)
        stage1_0_mlp_bn1 = fused.tokens_batch_norm(self.stage1[0].mlp.bn1, stage1_0_mlp_fc1)
        stage1_0_mlp_lif1 = self.stage1[0].mlp.lif1(stage1_0_mlp_bn1)
        # region8: stage1.0.mlp.fc2 -> stage1.0.mlp.bn2
        stage1_0_mlp_fc2 = fused.pointwise_conv1d(self.stage1[0].mlp.fc2, stage1_0_mlp_lif1)
        stage1_0_mlp_bn2 = fused.tokens_batch_norm(self.stage1[0].mlp.bn2, stage1_0_mlp_fc2)
        stage1_0_mlp_lif2 = self.stage1[0].mlp.lif2(stage1_0_mlp_bn2)
        # region9: stage1.0.add_2 -> stage1.0.reshape_3 -> patch_embed2.conv1 -> ...
        stage1_0_add_2 = stage1_0_add_1 + stage1_0_mlp_lif2
        stage1_0_reshape_3 = stage1_0_add_2.reshape(stage1_0_add_2.shape[0], 16, 8, 8)
        patch_embed2_conv1 = self.patch_embed2.conv1(stage1_0_reshape_3)
        patch_embed2_bn1 = self.patch_embed2.bn1(patch_embed2_conv1)
        patch_embed2_pool = self.patch_embed2.pool(patch_embed2_bn1)
        patch_embed2_shortcut_0 = self.patch_embed2.shortcut[0](stage1_0_reshape_3)
        patch_embed2_shortcut_1 = self.patch_embed2.shortcut[1](patch_embed2_shortcut_0)
        patch_embed2_lif1 = self.patch_embed2.lif1(patch_embed2_pool)
        # region10: patch_embed2.conv2 -> patch_embed2.bn2
        patch_embed2_conv2 = self.patch_embed2.conv2(patch_embed2_lif1)
        patch_embed2_bn2 = self.patch_embed2.bn2(patch_embed2_conv2)
        patch_embed2_lif2 = self.patch_embed2.lif2(patch_embed2_bn2)
        patch_embed2_shortcut_2 = self.patch_embed2.shortcut[2](patch_embed2_shortcut_1)
        # region11: patch_embed2.add_0 -> stage2.0.reshape_0 -> stage2.0.attn.qk_conv_bn.0 -> ...
        patch_embed2_add_0 = patch_embed2_lif2 + patch_embed2_shortcut_2
        stage2_0_reshape_0 = patch_embed2_add_0.reshape(patch_embed2_add_0.shape[0], 32, 16)
        stage2_0_attn_qk_conv_bn_0 = fused.pointwise_conv1d(self.stage2[0].attn.qk_conv_bn[0], stage2_0_reshape_0)
        stage2_0_attn_qk_conv_bn_1 = fused.tokens_batch_norm(self.stage2[0].attn.qk_conv_bn[1], stage2_0_attn_qk_conv_bn_0)
        stage2_0_attn_qk_lif = self.stage2[0].attn.qk_lif(stage2_0_attn_qk_conv_bn_1)
        # region12: stage2.0.attn.reshape_0 -> stage2.0.attn.chunk_1.0 -> ...
        stage2_0_attn_reshape_0 = stage2_0_attn_qk_lif.reshape(stage2_0_attn_qk_lif.shape[0], 4, 16, 16)
        stage2_0_attn_chunk_1_0 = stage2_0_attn_reshape_0.chunk(2, 1)[0]
        stage2_0_attn_chunk_1_1 = stage2_0_attn_reshape_0.chunk(2, 1)[1]
        stage2_0_attn_sum_2 = stage2_0_attn_chunk_1_0.sum(2, keepdim=True)
        stage2_0_attn_attn_lif = self.stage2[0].attn.attn_lif(stage2_0_attn_sum_2)
        # region13: stage2.0.attn.mul_3 -> stage2.0.attn.reshape_4 -> ...
        stage2_0_attn_mul_3 = stage2_0_attn_attn_lif * stage2_0_attn_chunk_1_1
        stage2_0_attn_reshape_4 = stage2_0_attn_mul_3.reshape(stage2_0_attn_mul_3.shape[0], 32, 16)
        stage2_0_attn_proj_conv_bn_0 = fused.pointwise_conv1d(self.stage2[0].attn.proj_conv_bn[0], stage2_0_attn_reshape_4)
        stage2_0_attn_proj_conv_bn_1 = fused.tokens_batch_norm(self.stage2[0].attn.proj_conv_bn[1], stage2_0_attn_proj_conv_bn_0)
        stage2_0_attn_proj_lif = self.stage2[0].attn.proj_lif(stage2_0_attn_proj_conv_bn_1)
        # region14: stage2.0.add_1 -> stage2.0.mlp.fc1 -> stage2.0.mlp.bn1
        stage2_0_add_1 = stage2_0_reshape_0 + stage2_0_attn_proj_lif
        stage2_0_mlp_fc1 = fused.pointwise_conv1d(self.stage2[0].mlp.fc1, stage2_0_add_1)
        stage2_0_mlp_bn1 = fused.tokens_batch_norm(self.stage2[0].mlp.bn1, stage2_0_mlp_fc1)
        stage2_0_mlp_lif1 = self.stage2[0].mlp.lif1(stage2_0_mlp_bn1)
        # region15: stage2.0.mlp.fc2 -> stage2.0.mlp.bn2
        stage2_0_mlp_fc2 = fused.pointwise_conv1d(self.stage2[0].mlp.fc2, stage2_0_mlp_lif1)
        stage2_0_mlp_bn2 = fused.tokens_batch_norm(self.stage2[0].mlp.bn2, stage2_0_mlp_fc2)
        stage2_0_mlp_lif2 = self.stage2[0].mlp.lif2(stage2_0_mlp_bn2)
        # region16: stage2.0.add_2 -> stage2.0.reshape_3 -> patch_embed3.conv1 -> ...
        stage2_0_add_2 = stage2_0_add_1 + stage2_0_mlp_lif2
        stage2_0_reshape_3 = stage2_0_add_2.reshape(stage2_0_add_2.shape[0], 32, 4, 4)
        patch_embed3_conv1 = self.patch_embed3.conv1(stage2_0_reshape_3)
        patch_embed3_bn1 = self.patch_embed3.bn1(patch_embed3_conv1)
        patch_embed3_pool = self.patch_embed3.pool(patch_embed3_bn1)
        patch_embed3_shortcut_0 = self.patch_embed3.shortcut[0](stage2_0_reshape_3)
        patch_embed3_shortcut_1 = self.patch_embed3.shortcut[1](patch_embed3_shortcut_0)
        patch_embed3_lif1 = self.patch_embed3.lif1(patch_embed3_pool)
        # region17: patch_embed3.conv2 -> patch_embed3.bn2
        patch_embed3_conv2 = self.patch_embed3.conv2(patch_embed3_lif1)
        patch_embed3_bn2 = self.patch_embed3.bn2(patch_embed3_conv2)
        patch_embed3_lif2 = self.patch_embed3.lif2(patch_embed3_bn2)
        patch_embed3_shortcut_2 = self.patch_embed3.shortcut[2](patch_embed3_shortcut_1)
        # region18: patch_embed3.add_0 -> stage3.0.reshape_0 -> stage3.0.attn.qkv_conv_bn.0 -> ...
        patch_embed3_add_0 = patch_embed3_lif2 + patch_embed3_shortcut_2
        stage3_0_reshape_0 = patch_embed3_add_0.reshape(patch_embed3_add_0.shape[0], 64, 4)
        stage3_0_attn_qkv_conv_bn_0 = fused.pointwise_conv1d(self.stage3[0].attn.qkv_conv_bn[0], stage3_0_reshape_0)
        stage3_0_attn_qkv_conv_bn_1 = fused.tokens_batch_norm(self.stage3[0].attn.qkv_conv_bn[1], stage3_0_attn_qkv_conv_bn_0)
        stage3_0_attn_qkv_lif = self.stage3[0].attn.qkv_lif(stage3_0_attn_qkv_conv_bn_1)
        # region19: stage3.0.attn.reshape_0 -> stage3.0.attn.chunk_1.0 -> ...
        stage3_0_attn_reshape_0 = stage3_0_attn_qkv_lif.reshape(stage3_0_attn_qkv_lif.shape[0], 6, 32, 4)
        stage3_0_attn_chunk_1_0 = stage3_0_attn_reshape_0.chunk(3, 1)[0]
        stage3_0_attn_chunk_1_1 = stage3_0_attn_reshape_0.chunk(3, 1)[1]
        stage3_0_attn_chunk_1_2 = stage3_0_attn_reshape_0.chunk(3, 1)[2]
        stage3_0_attn_transpose_2 = stage3_0_attn_chunk_1_1.transpose(-2, -1)
        stage3_0_attn_matmul_3 = stage3_0_attn_chunk_1_2 @ stage3_0_attn_transpose_2
        stage3_0_attn_matmul_4 = stage3_0_attn_matmul_3 @ stage3_0_attn_chunk_1_0
        stage3_0_attn_scale_5 = stage3_0_attn_matmul_4 * 0.125
        stage3_0_attn_attn_lif = self.stage3[0].attn.attn_lif(stage3_0_attn_scale_5)
        # region20: stage3.0.attn.reshape_6 -> stage3.0.attn.proj_conv_bn.0 -> ...
        stage3_0_attn_reshape_6 = stage3_0_attn_attn_lif.reshape(stage3_0_attn_attn_lif.shape[0], 64, 4)
        stage3_0_attn_proj_conv_bn_0 = fused.pointwise_conv1d(self.stage3[0].attn.proj_conv_bn[0], stage3_0_attn_reshape_6)
        stage3_0_attn_proj_conv_bn_1 = fused.tokens_batch_norm(self.stage3[0].attn.proj_conv_bn[1], stage3_0_attn_proj_conv_bn_0)
        stage3_0_attn_proj_lif = self.stage3[0].attn.proj_lif(stage3_0_attn_proj_conv_bn_1)
        # region21: stage3.0.add_1 -> stage3.0.mlp.fc1 -> stage3.0.mlp.bn1
        stage3_0_add_1 = stage3_0_reshape_0 + stage3_0_attn_proj_lif
        stage3_0_mlp_fc1 = fused.pointwise_conv1d(self.stage3[0].mlp.fc1, stage3_0_add_1)
        stage3_0_mlp_bn1 = fused.tokens_batch_norm(self.stage3[0].mlp.bn1, stage3_0_mlp_fc1)
        stage3_0_mlp_lif1 = self.stage3[0].mlp.lif1(stage3_0_mlp_bn1)
        # region22: stage3.0.mlp.fc2 -> stage3.0.mlp.bn2
        stage3_0_mlp_fc2 = fused.pointwise_conv1d(self.stage3[0].mlp.fc2, stage3_0_mlp_lif1)
        stage3_0_mlp_bn2 = fused.tokens_batch_norm(self.stage3[0].mlp.bn2, stage3_0_mlp_fc2)
        stage3_0_mlp_lif2 = self.stage3[0].mlp.lif2(stage3_0_mlp_bn2)
        # region23: stage3.0.add_2 -> stage3.0.reshape_3 -> reshape_0 -> mean_1 -> head
        stage3_0_add_2 = stage3_0_add_1 + stage3_0_mlp_lif2
        stage3_0_reshape_3 = stage3_0_add_2.reshape(stage3_0_add_2.shape[0], 64, 2, 2)
        reshape_0 = stage3_0_reshape_3.reshape(stage3_0_reshape_3.shape[0], 64, 4)
        mean_1 = reshape_0.mean(-1)
        head = self.head(mean_1)
        return head
