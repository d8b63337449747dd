# Compiled by snndsl 0.1.0 from 'examples/spike_driven_transformer.snn', model SpikeDrivenTransformer.
# Generated code: edit the .snn file and recompile rather than editing this file.
import torch
from torch import nn

from snndsl.runtime import neuron
from snndsl.runtime.model import Block, CompiledModule


# parameters: num_classes=10, dim=64, heads=2, depth=1
class SpikeDrivenTransformer(CompiledModule):
    """The spiking network `SpikeDrivenTransformer`: call it on [T, N, ...] (multi-step) or [N, ...] (single-step)."""

    def __init__(self, step_mode: str = "m", carry_state: bool = False):
        super().__init__(step_mode, carry_state)
        # patch_embed: block PatchEmbed(cin=3, dim=64)
        self.patch_embed = Block('PatchEmbed')
        # patch_embed.stages: group
        self.patch_embed.stages = nn.Sequential(
            nn.Sequential(
                nn.Conv2d(3, 8, 3, padding=1),
                nn.BatchNorm2d(8),
                neuron.LIFNode(),
            ),
            nn.Sequential(
                nn.Conv2d(8, 16, 3, padding=1),
                nn.BatchNorm2d(16),
                neuron.LIFNode(),
            ),
            nn.Sequential(
                nn.Conv2d(16, 32, 3, padding=1),
                nn.BatchNorm2d(32),
                neuron.LIFNode(),
                nn.MaxPool2d(3, stride=2, padding=1),
            ),
        )
        # patch_embed.final_stage: group
        self.patch_embed.final_stage = nn.Sequential(
            nn.Conv2d(32, 64, 3, padding=1),
            nn.BatchNorm2d(64),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        self.patch_embed.final_lif = neuron.LIFNode()
        self.patch_embed.rpe_conv = nn.Conv2d(64, 64, 3, padding=1, bias=False)
        self.patch_embed.rpe_bn = nn.BatchNorm2d(64)
        # blocks: Block(dim=64, heads=2, side=8) * 1
        self.blocks = nn.Sequential(Block('Block'))
        # blocks.0.attn: block SDSA(dim=64, heads=2, side=8)
        self.blocks[0].attn = Block('SDSA')
        self.blocks[0].attn.shortcut_lif = neuron.LIFNode(tau=2.0, detach_reset=True)
        self.blocks[0].attn.q_conv = nn.Conv2d(64, 64, 1, bias=False)
        self.blocks[0].attn.q_bn = nn.BatchNorm2d(64)
        self.blocks[0].attn.q_lif = neuron.LIFNode(tau=2.0, detach_reset=True)
        self.blocks[0].attn.k_conv = nn.Conv2d(64, 64, 1, bias=False)
        self.blocks[0].attn.k_bn = nn.BatchNorm2d(64)
        self.blocks[0].attn.k_lif = neuron.LIFNode(tau=2.0, detach_reset=True)
        self.blocks[0].attn.v_conv = nn.Conv2d(64, 64, 1, bias=False)
        self.blocks[0].attn.v_bn = nn.BatchNorm2d(64)
        self.blocks[0].attn.v_lif = neuron.LIFNode(tau=2.0, detach_reset=True)
        self.blocks[0].attn.attn_lif = neuron.LIFNode(tau=2.0, v_threshold=0.5, detach_reset=True)
        self.blocks[0].attn.proj_conv = nn.Conv2d(64, 64, 1)
        self.blocks[0].attn.proj_bn = nn.BatchNorm2d(64)
        # blocks.0.mlp: block MLP(dim=64, hidden=256)
        self.blocks[0].mlp = Block('MLP')
        self.blocks[0].mlp.lif1 = neuron.LIFNode()
        self.blocks[0].mlp.fc1 = nn.Conv2d(64, 256, 1)
        self.blocks[0].mlp.bn1 = nn.BatchNorm2d(256)
        self.blocks[0].mlp.lif2 = neuron.LIFNode()
        self.blocks[0].mlp.fc2 = nn.Conv2d(256, 64, 1)
        self.blocks[0].mlp.bn2 = nn.BatchNorm2d(64)
        self.head_lif = neuron.LIFNode()
        self.head = nn.Linear(64, 10)
        # convolutions of channels-last regions keep their weights channels-last too
        self.patch_embed.stages[0][0].to(memory_format=torch.channels_last)
        self.patch_embed.stages[1][0].to(memory_format=torch.channels_last)
        self.patch_embed.stages[2][0].to(memory_format=torch.channels_last)
        self.patch_embed.final_stage[0].to(memory_format=torch.channels_last)
        self.patch_embed.rpe_conv.to(memory_format=torch.channels_last)
        self.blocks[0].attn.q_conv.to(memory_format=torch.channels_last)
        self.blocks[0].attn.k_conv.to(memory_format=torch.channels_last)
        self.blocks[0].attn.v_conv.to(memory_format=torch.channels_last)
        self.blocks[0].attn.proj_conv.to(memory_format=torch.channels_last)
        self.blocks[0].mlp.fc1.to(memory_format=torch.channels_last)
        self.blocks[0].mlp.fc2.to(memory_format=torch.channels_last)

    def multi_step_forward(self, img, T: int | None = None):
        """Inputs img: [T, N, 3, 32, 32]."""
        self.check_input('img', img, (3, 32, 32), static=False)
        T, N = img.shape[:2]
        # region0 (batched over T*N, channels-last): patch_embed.stages.0.0 -> ...
        img_flat = img.flatten(0, 1)
        img_nhwc = img_flat.contiguous(memory_format=torch.channels_last)
        patch_embed_stages_0_0 = self.patch_embed.stages[0][0](img_nhwc)
        patch_embed_stages_0_1 = self.patch_embed.stages[0][1](patch_embed_stages_0_0)
        patch_embed_stages_0_2 = self.patch_embed.stages[0][2](patch_embed_stages_0_1.unflatten(0, (T, N)))
        # region1 (batched over T*N, channels-last): patch_embed.stages.1.0 -> ...
        patch_embed_stages_0_2_flat = patch_embed_stages_0_2.flatten(0, 1)
        patch_embed_stages_0_2_nhwc = patch_embed_stages_0_2_flat.contiguous(memory_format=torch.channels_last)
        patch_embed_stages_1_0 = self.patch_embed.stages[1][0](patch_embed_stages_0_2_nhwc)
        patch_embed_stages_1_1 = self.patch_embed.stages[1][1](patch_embed_stages_1_0)
        patch_embed_stages_1_2 = self.patch_embed.stages[1][2](patch_embed_stages_1_1.unflatten(0, (T, N)))
        # region2 (batched over T*N, channels-last): patch_embed.stages.2.0 -> ...
        patch_embed_stages_1_2_flat = patch_embed_stages_1_2.flatten(0, 1)
        patch_embed_stages_1_2_nhwc = patch_embed_stages_1_2_flat.contiguous(memory_format=torch.channels_last)
        patch_embed_stages_2_0 = self.patch_embed.stages[2][0](patch_embed_stages_1_2_nhwc)
        patch_embed_stages_2_1 = self.patch_embed.stages[2][1](patch_embed_stages_2_0)
        patch_embed_stages_2_2 = self.patch_embed.stages[2][2](patch_embed_stages_2_1.unflatten(0, (T, N)))
        # region3 (batched over T*N, channels-last): patch_embed.stages.2.3 -> ...
        patch_embed_stages_2_2_flat = patch_embed_stages_2_2.flatten(0, 1)
        patch_embed_stages_2_2_nhwc = patch_embed_stages_2_2_flat.contiguous(memory_format=torch.channels_last)
        patch_embed_stages_2_3 = self.patch_embed.stages[2][3](patch_embed_stages_2_2_nhwc)
        patch_embed_final_stage_0 = self.patch_embed.final_stage[0](patch_embed_stages_2_3)
        patch_embed_final_stage_1 = self.patch_embed.final_stage[1](patch_embed_final_stage_0)
        patch_embed_final_stage_2 = self.patch_embed.final_stage[2](patch_embed_final_stage_1)
        patch_embed_final_lif = self.patch_embed.final_lif(patch_embed_final_stage_2.unflatten(0, (T, N)))
        # region4 (batched over T*N, channels-last): patch_embed.rpe_conv -> ...
        patch_embed_final_lif_flat = patch_embed_final_lif.flatten(0, 1)
        patch_embed_final_lif_nhwc = patch_embed_final_lif_flat.contiguous(memory_format=torch.channels_last)
        patch_embed_rpe_conv = self.patch_embed.rpe_conv(patch_embed_final_lif_nhwc)
        patch_embed_rpe_bn = self.patch_embed.rpe_bn(patch_embed_rpe_conv)
        patch_embed_add_0 = patch_embed_rpe_bn + patch_embed_final_stage_2
        blocks_0_attn_shortcut_lif = self.blocks[0].attn.shortcut_lif(patch_embed_add_0.unflatten(0, (T, N)))
        # region5 (batched over T*N, channels-last): blocks.0.attn.q_conv -> blocks.0.attn.q_bn
        blocks_0_attn_shortcut_lif_flat = blocks_0_attn_shortcut_lif.flatten(0, 1)
        blocks_0_attn_shortcut_lif_nhwc = blocks_0_attn_shortcut_lif_flat.contiguous(memory_format=torch.channels_last)
        blocks_0_attn_q_conv = self.blocks[0].attn.q_conv(blocks_0_attn_shortcut_lif_nhwc)
        blocks_0_attn_q_bn = self.blocks[0].attn.q_bn(blocks_0_attn_q_conv)
        blocks_0_attn_q_lif = self.blocks[0].attn.q_lif(blocks_0_attn_q_bn.unflatten(0, (T, N)))
        # region6 (batched over T*N): blocks.0.attn.reshape_0 -> blocks.0.attn.transpose_1
        blocks_0_attn_q_lif_flat = blocks_0_attn_q_lif.flatten(0, 1)
        blocks_0_attn_reshape_0 = blocks_0_attn_q_lif_flat.reshape(blocks_0_attn_q_lif_flat.shape[0], 2, 32, 64)
        blocks_0_attn_transpose_1 = blocks_0_attn_reshape_0.transpose(2, 3)
        # region7 (batched over T*N, channels-last): blocks.0.attn.k_conv -> blocks.0.attn.k_bn
        blocks_0_attn_k_conv = self.blocks[0].attn.k_conv(blocks_0_attn_shortcut_lif_nhwc)
        blocks_0_attn_k_bn = self.blocks[0].attn.k_bn(blocks_0_attn_k_conv)
        blocks_0_attn_k_lif = self.blocks[0].attn.k_lif(blocks_0_attn_k_bn.unflatten(0, (T, N)))
        # region9 (batched over T*N, channels-last): blocks.0.attn.v_conv -> blocks.0.attn.v_bn
        blocks_0_attn_v_conv = self.blocks[0].attn.v_conv(blocks_0_attn_shortcut_lif_nhwc)
        blocks_0_attn_v_bn = self.blocks[0].attn.v_bn(blocks_0_attn_v_conv)
        blocks_0_attn_v_lif = self.blocks[0].attn.v_lif(blocks_0_attn_v_bn.unflatten(0, (T, N)))
        # region8 (batched over T*N): blocks.0.attn.reshape_2 -> blocks.0.attn.transpose_3 -> ...
        blocks_0_attn_k_lif_flat = blocks_0_attn_k_lif.flatten(0, 1)
        blocks_0_attn_reshape_2 = blocks_0_attn_k_lif_flat.reshape(blocks_0_attn_k_lif_flat.shape[0], 2, 32, 64)
        blocks_0_attn_transpose_3 = blocks_0_attn_reshape_2.transpose(2, 3)
        blocks_0_attn_v_lif_flat = blocks_0_attn_v_lif.flatten(0, 1)
        blocks_0_attn_reshape_4 = blocks_0_attn_v_lif_flat.reshape(blocks_0_attn_v_lif_flat.shape[0], 2, 32, 64)
        blocks_0_attn_transpose_5 = blocks_0_attn_reshape_4.transpose(2, 3)
        blocks_0_attn_mul_6 = blocks_0_attn_transpose_3 * blocks_0_attn_transpose_5
        blocks_0_attn_sum_7 = blocks_0_attn_mul_6.sum(2, keepdim=True)
        blocks_0_attn_attn_lif = self.blocks[0].attn.attn_lif(blocks_0_attn_sum_7.unflatten(0, (T, N)))
        # region10 (batched over T*N, channels-last): blocks.0.attn.mul_8 -> ...
        blocks_0_attn_attn_lif_flat = blocks_0_attn_attn_lif.flatten(0, 1)
        blocks_0_attn_transpose_1_nhwc = blocks_0_attn_transpose_1.contiguous(memory_format=torch.channels_last)
        blocks_0_attn_attn_lif_nhwc = blocks_0_attn_attn_lif_flat.contiguous(memory_format=torch.channels_last)
        blocks_0_attn_mul_8 = blocks_0_attn_transpose_1_nhwc * blocks_0_attn_attn_lif_nhwc
        blocks_0_attn_transpose_9 = blocks_0_attn_mul_8.transpose(2, 3)
        blocks_0_attn_reshape_10 = blocks_0_attn_transpose_9.reshape(blocks_0_attn_transpose_9.shape[0], 64, 8, 8)
        blocks_0_attn_proj_conv = self.blocks[0].attn.proj_conv(blocks_0_attn_reshape_10)
        blocks_0_attn_proj_bn = self.blocks[0].attn.proj_bn(blocks_0_attn_proj_conv)
        blocks_0_attn_add_11 = blocks_0_attn_proj_bn + patch_embed_add_0
        blocks_0_mlp_lif1 = self.blocks[0].mlp.lif1(blocks_0_attn_add_11.unflatten(0, (T, N)))
        # region11 (batched over T*N, channels-last): blocks.0.mlp.fc1 -> blocks.0.mlp.bn1
        blocks_0_mlp_lif1_flat = blocks_0_mlp_lif1.flatten(0, 1)
        blocks_0_mlp_lif1_nhwc = blocks_0_mlp_lif1_flat.contiguous(memory_format=torch.channels_last)
        blocks_0_mlp_fc1 = self.blocks[0].mlp.fc1(blocks_0_mlp_lif1_nhwc)
        blocks_0_mlp_bn1 = self.blocks[0].mlp.bn1(blocks_0_mlp_fc1)
        blocks_0_mlp_lif2 = self.blocks[0].mlp.lif2(blocks_0_mlp_bn1.unflatten(0, (T, N)))
        # region12 (batched over T*N, channels-last): blocks.0.mlp.fc2 -> blocks.0.mlp.bn2 -> ...
        blocks_0_mlp_lif2_flat = blocks_0_mlp_lif2.flatten(0, 1)
        blocks_0_mlp_lif2_nhwc = blocks_0_mlp_lif2_flat.contiguous(memory_format=torch.channels_last)
        blocks_0_mlp_fc2 = self.blocks[0].mlp.fc2(blocks_0_mlp_lif2_nhwc)
        blocks_0_mlp_bn2 = self.blocks[0].mlp.bn2(blocks_0_mlp_fc2)
        blocks_0_mlp_add_0 = blocks_0_mlp_bn2 + blocks_0_attn_add_11
        reshape_0 = blocks_0_mlp_add_0.reshape(blocks_0_mlp_add_0.shape[0], 64, 64)
        mean_1 = reshape_0.mean(-1)
        head_lif = self.head_lif(mean_1.unflatten(0, (T, N)))
        # region13 (batched over T*N): head
        head_lif_flat = head_lif.flatten(0, 1)
        head = self.head(head_lif_flat)
        return head.unflatten(0, (T, N))

    def single_step_forward(self, img):
        """One time step: inputs img: [N, 3, 32, 32]."""
        self.check_input('img', img, (3, 32, 32), static=False)
        # region0: patch_embed.stages.0.0 -> patch_embed.stages.0.1
        patch_embed_stages_0_0 = self.patch_embed.stages[0][0](img)
        patch_embed_stages_0_1 = self.patch_embed.stages[0][1](patch_embed_stages_0_0)
        patch_embed_stages_0_2 = self.patch_embed.stages[0][2](patch_embed_stages_0_1)
        # region1: patch_embed.stages.1.0 -> patch_embed.stages.1.1
        patch_embed_stages_1_0 = self.patch_embed.stages[1][0](patch_embed_stages_0_2)
        patch_embed_stages_1_1 = self.patch_embed.stages[1][1](patch_embed_stages_1_0)
        patch_embed_stages_1_2 = self.patch_embed.stages[1][2](patch_embed_stages_1_1)
        # region2: patch_embed.stages.2.0 -> patch_embed.stages.2.1
        patch_embed_stages_2_0 = self.patch_embed.stages[2][0](patch_embed_stages_1_2)
        patch_embed_stages_2_1 = self.patch_embed.stages[2][1](patch_embed_stages_2_0)
        patch_embed_stages_2_2 = self.patch_embed.stages[2][2](patch_embed_stages_2_1)
        # region3: patch_embed.stages.2.3 -> patch_embed.final_stage.0 -> ...
        patch_embed_stages_2_3 = self.patch_embed.stages[2][3](patch_embed_stages_2_2)
        patch_embed_final_stage_0 = self.patch_embed.final_stage[0](patch_embed_stages_2_3)
        patch_embed_final_stage_1 = self.patch_embed.final_stage[1](patch_embed_final_stage_0)
        patch_embed_final_stage_2 = self.patch_embed.final_stage[2](patch_embed_final_stage_1)
        patch_embed_final_lif = self.patch_embed.final_lif(patch_embed_final_stage_2)
        # region4: patch_embed.rpe_conv -> patch_embed.rpe_bn -> patch_embed.add_0
        patch_embed_rpe_conv = self.patch_embed.rpe_conv(patch_embed_final_lif)
        patch_embed_rpe_bn = self.patch_embed.rpe_bn(patch_embed_rpe_conv)
        patch_embed_add_0 = patch_embed_rpe_bn + patch_embed_final_stage_2
        blocks_0_attn_shortcut_lif = self.blocks[0].attn.shortcut_lif(patch_embed_add_0)
        # region5: blocks.0.attn.q_conv -> blocks.0.attn.q_bn
        blocks_0_attn_q_conv = self.blocks[0].attn.q_conv(blocks_0_attn_shortcut_lif)
        blocks_0_attn_q_bn = self.blocks[0].attn.q_bn(blocks_0_attn_q_conv)
        blocks_0_attn_q_lif = self.blocks[0].attn.q_lif(blocks_0_attn_q_bn)
        # region6: blocks.0.attn.reshape_0 -> blocks.0.attn.transpose_1
        blocks_0_attn_reshape_0 = blocks_0_attn_q_lif.reshape(blocks_0_attn_q_lif.shape[0], 2, 32, 64)
        blocks_0_attn_transpose_1 = blocks_0_attn_reshape_0.transpose(2, 3)
        # region7: blocks.0.attn.k_conv -> blocks.0.attn.k_bn
        blocks_0_attn_k_conv = self.blocks[0].attn.k_conv(blocks_0_attn_shortcut_lif)
        blocks_0_attn_k_bn = self.blocks[0].attn.k_bn(blocks_0_attn_k_conv)
        blocks_0_attn_k_lif = self.blocks[0].attn.k_lif(blocks_0_attn_k_bn)
        # region9: blocks.0.attn.v_conv -> blocks.0.attn.v_bn
        blocks_0_attn_v_conv = self.blocks[0].attn.v_conv(blocks_0_attn_shortcut_lif)
        blocks_0_attn_v_bn = self.blocks[0].attn.v_bn(blocks_0_attn_v_conv)
        blocks_0_attn_v_lif = self.blocks[0].attn.v_lif(blocks_0_attn_v_bn)
        # region8: blocks.0.attn.reshape_2 -> blocks.0.attn.transpose_3 -> ...
        blocks_0_attn_reshape_2 = blocks_0_attn_k_lif.reshape(blocks_0_attn_k_lif.shape[0], 2, 32, 64)
        blocks_0_attn_transpose_3 = blocks_0_attn_reshape_2.transpose(2, 3)
        blocks_0_attn_reshape_4 = blocks_0_attn_v_lif.reshape(blocks_0_attn_v_lif.shape[0], 2, 32, 64)
        blocks_0_attn_transpose_5 = blocks_0_attn_reshape_4.transpose(2, 3)
        blocks_0_attn_mul_6 = blocks_0_attn_transpose_3 * blocks_0_attn_transpose_5
        blocks_0_attn_sum_7 = blocks_0_attn_mul_6.sum(2, keepdim=True)
        blocks_0_attn_attn_lif = self.blocks[0].attn.attn_lif(blocks_0_attn_sum_7)
        # region10: blocks.0.attn.mul_8 -> blocks.0.attn.transpose_9 -> ...
        blocks_0_attn_mul_8 = blocks_0_attn_transpose_1 * blocks_0_attn_attn_lif
        blocks_0_attn_transpose_9 = blocks_0_attn_mul_8.transpose(2, 3)
        blocks_0_attn_reshape_10 = blocks_0_attn_transpose_9.reshape(blocks_0_attn_transpose_9.shape[0], 64, 8, 8)
        blocks_0_attn_proj_conv = self.blocks[0].attn.proj_conv(blocks_0_attn_reshape_10)
        blocks_0_attn_proj_bn = self.blocks[0].attn.proj_bn(blocks_0_attn_proj_conv)
        blocks_0_attn_add_11 = blocks_0_attn_proj_bn + patch_embed_add_0
        blocks_0_mlp_lif1 = self.blocks[0].mlp.lif1(blocks_0_attn_add_11)
        # region11: blocks.0.mlp.fc1 -> blocks.0.mlp.bn1
        blocks_0_mlp_fc1 = self.blocks[0].mlp.fc1(blocks_0_mlp_lif1)
        blocks_0_mlp_bn1 = self.blocks[0].mlp.bn1(blocks_0_mlp_fc1)
        blocks_0_mlp_lif2 = self.blocks[0].mlp.lif2(blocks_0_mlp_bn1)
        # region12: blocks.0.mlp.fc2 -> blocks.0.mlp.bn2 -> blocks.0.mlp.add_0 -> reshape_0 -> ...
        blocks_0_mlp_fc2 = self.blocks[0].mlp.fc2(blocks_0_mlp_lif2)
        blocks_0_mlp_bn2 = self.blocks[0].mlp.bn2(blocks_0_mlp_fc2)
        blocks_0_mlp_add_0 = blocks_0_mlp_bn2 + blocks_0_attn_add_11
        reshape_0 = blocks_0_mlp_add_0.reshape(blocks_0_mlp_add_0.shape[0], 64, 64)
        mean_1 = reshape_0.mean(-1)
        head_lif = self.head_lif(mean_1)
        # region13: head
        head = self.head(head_lif)
        return head
