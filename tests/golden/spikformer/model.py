# Compiled by snndsl 0.1.0 from 'examples/spikformer.snn', model Spikformer.
# Generated code: edit the .snn file and recompile rather than editing this file.
import torch
from torch import nn

from snndsl.runtime import fused, neuron
from snndsl.runtime.model import Block, CompiledModule


# parameters: num_classes=10, dim=64, heads=2, depth=1
class Spikformer(CompiledModule):
    """The spiking network `Spikformer`: call it on [T, N, ...] (multi-step) or [N, ...] (single-step)."""

    def __init__(self, step_mode: str = "m", carry_state: bool = False):
        super().__init__(step_mode, carry_state)
        # patch_embed: block PatchStem(cin=3, dim=64)
        self.patch_embed = Block('PatchStem')
        # patch_embed.stages: ConvBNLIF(cin=3, cout=8) group
        self.patch_embed.stages = nn.Sequential(
            Block('ConvBNLIF'),
            Block('ConvBNLIF'),
            Block('ConvBNPoolLIF'),
            Block('ConvBNPoolLIF'),
        )
        # patch_embed.stages.0.conv_bn: block ConvBN(cin=3, cout=8)
        self.patch_embed.stages[0].conv_bn = Block('ConvBN')
        # patch_embed.stages.0.conv_bn.block: group
        self.patch_embed.stages[0].conv_bn.block = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8))
        self.patch_embed.stages[0].neuron = neuron.LIFNode(tau=2.0, detach_reset=True)
        # patch_embed.stages.1.conv_bn: block ConvBN(cin=8, cout=16)
        self.patch_embed.stages[1].conv_bn = Block('ConvBN')
        # patch_embed.stages.1.conv_bn.block: group
        self.patch_embed.stages[1].conv_bn.block = nn.Sequential(nn.Conv2d(8, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16))
        self.patch_embed.stages[1].neuron = neuron.LIFNode(tau=2.0, detach_reset=True)
        # patch_embed.stages.2.conv_bn: block ConvBNPool(cin=16, cout=32)
        self.patch_embed.stages[2].conv_bn = Block('ConvBNPool')
        # patch_embed.stages.2.conv_bn.block: group
        self.patch_embed.stages[2].conv_bn.block = nn.Sequential(
            nn.Conv2d(16, 32, 3, padding=1, bias=False),
            nn.BatchNorm2d(32),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        self.patch_embed.stages[2].neuron = neuron.LIFNode(tau=2.0, detach_reset=True)
        # patch_embed.stages.3.conv_bn: block ConvBNPool(cin=32, cout=64)
        self.patch_embed.stages[3].conv_bn = Block('ConvBNPool')
        # patch_embed.stages.3.conv_bn.block: group
        self.patch_embed.stages[3].conv_bn.block = nn.Sequential(
            nn.Conv2d(32, 64, 3, padding=1, bias=False),
            nn.BatchNorm2d(64),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        self.patch_embed.stages[3].neuron = neuron.LIFNode(tau=2.0, detach_reset=True)
        # patch_embed.positional_encoding: block ConvBNLIF(cin=64, cout=64)
        self.patch_embed.positional_encoding = Block('ConvBNLIF')
        # patch_embed.positional_encoding.conv_bn: block ConvBN(cin=64, cout=64)
        self.patch_embed.positional_encoding.conv_bn = Block('ConvBN')
        # patch_embed.positional_encoding.conv_bn.block: group
        self.patch_embed.positional_encoding.conv_bn.block = nn.Sequential(nn.Conv2d(64, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64))
        self.patch_embed.positional_encoding.neuron = neuron.LIFNode(tau=2.0, detach_reset=True)
        # blocks: Encoder(dim=64, heads=2, side=8) * 1
        self.blocks = nn.Sequential(Block('Encoder'))
        # blocks.0.attn: block SSA(dim=64, heads=2)
        self.blocks[0].attn = Block('SSA')
        # blocks.0.attn.qkv_conv_bn: group
        self.blocks[0].attn.qkv_conv_bn = nn.Sequential(nn.Conv1d(64, 192, 1, bias=False), nn.BatchNorm1d(192))
        self.blocks[0].attn.qkv_lif = neuron.LIFNode(tau=2.0, detach_reset=True)
        self.blocks[0].attn.attn_lif = neuron.LIFNode(v_threshold=0.5, tau=2.0, detach_reset=True)
        # blocks.0.attn.proj_conv_bn: group
        self.blocks[0].attn.proj_conv_bn = nn.Sequential(nn.Conv1d(64, 64, 1, bias=False), nn.BatchNorm1d(64))
        self.blocks[0].attn.proj_lif = neuron.LIFNode(tau=2.0, detach_reset=True)
        # blocks.0.mlp: block MLP(dim=64, hidden=256)
        self.blocks[0].mlp = Block('MLP')
        # blocks.0.mlp.fc1: group
        self.blocks[0].mlp.fc1 = nn.Sequential(nn.Conv1d(64, 256, 1, bias=False), nn.BatchNorm1d(256))
        self.blocks[0].mlp.neuron1 = neuron.LIFNode(tau=2.0, detach_reset=True)
        # blocks.0.mlp.fc2: group
        self.blocks[0].mlp.fc2 = nn.Sequential(nn.Conv1d(256, 64, 1, bias=False), nn.BatchNorm1d(64))
        self.blocks[0].mlp.neuron2 = neuron.LIFNode(tau=2.0, detach_reset=True)
        self.head = nn.Linear(64, 10)
        # convolutions of channels-last regions keep their weights channels-last too
        self.patch_embed.stages[0].conv_bn.block[0].to(memory_format=torch.channels_last)
        self.patch_embed.stages[1].conv_bn.block[0].to(memory_format=torch.channels_last)
        self.patch_embed.stages[2].conv_bn.block[0].to(memory_format=torch.channels_last)
        self.patch_embed.stages[3].conv_bn.block[0].to(memory_format=torch.channels_last)
        self.patch_embed.positional_encoding.conv_bn.block[0].to(memory_format=torch.channels_last)

    def multi_step_forward(self, img, T: int | None = None):
        """Inputs img: [T, N, 3, 32, 32]."""
        self.check_input('img', img, (3, 32, 32), static=False)
        T, N = img.shape[:2]
        # region0 (batched over T*N, channels-last): patch_embed.stages.0.conv_bn.block.0 -> ...
        img_flat = img.flatten(0, 1)
        img_nhwc = img_flat.contiguous(memory_format=torch.channels_last)
        patch_embed_stages_0_conv_bn_block_0 = self.patch_embed.stages[0].conv_bn.block[0](img_nhwc)
        patch_embed_stages_0_conv_bn_block_1 = self.patch_embed.stages[0].conv_bn.block[1](patch_embed_stages_0_conv_bn_block_0)
        patch_embed_stages_0_neuron = self.patch_embed.stages[0].neuron(patch_embed_stages_0_conv_bn_block_1.unflatten(0, (T, N)))
        # region1 (batched over T*N, channels-last): patch_embed.stages.1.conv_bn.block.0 -> ...
        patch_embed_stages_0_neuron_flat = patch_embed_stages_0_neuron.flatten(0, 1)
        patch_embed_stages_0_neuron_nhwc = patch_embed_stages_0_neuron_flat.contiguous(memory_format=torch.channels_last)
        patch_embed_stages_1_conv_bn_block_0 = self.patch_embed.stages[1].conv_bn.block[0](patch_embed_stages_0_neuron_nhwc)
        patch_embed_stages_1_conv_bn_block_1 = self.patch_embed.stages[1].conv_bn.block[1](patch_embed_stages_1_conv_bn_block_0)
        patch_embed_stages_1_neuron = self.patch_embed.stages[1].neuron(patch_embed_stages_1_conv_bn_block_1.unflatten(0, (T, N)))
        # region2 (batched over T*N, channels-last): patch_embed.stages.2.conv_bn.block.0 -> ...
        patch_embed_stages_1_neuron_flat = patch_embed_stages_1_neuron.flatten(0, 1)
        patch_embed_stages_1_neuron_nhwc = patch_embed_stages_1_neuron_flat.contiguous(memory_format=torch.channels_last)
        patch_embed_stages_2_conv_bn_block_0 = self.patch_embed.stages[2].conv_bn.block[0](patch_embed_stages_1_neuron_nhwc)
        patch_embed_stages_2_conv_bn_block_1 = self.patch_embed.stages[2].conv_bn.block[1](patch_embed_stages_2_conv_bn_block_0)
        patch_embed_stages_2_conv_bn_block_2 = self.patch_embed.stages[2].conv_bn.block[2](patch_embed_stages_2_conv_bn_block_1)
        patch_embed_stages_2_neuron = self.patch_embed.stages[2].neuron(patch_embed_stages_2_conv_bn_block_2.unflatten(0, (T, N)))
        # region3 (batched over T*N, channels-last): patch_embed.stages.3.conv_bn.block.0 -> ...
        patch_embed_stages_2_neuron_flat = patch_embed_stages_2_neuron.flatten(0, 1)
        patch_embed_stages_2_neuron_nhwc = patch_embed_stages_2_neuron_flat.contiguous(memory_format=torch.channels_last)
        patch_embed_stages_3_conv_bn_block_0 = self.patch_embed.stages[3].conv_bn.block[0](patch_embed_stages_2_neuron_nhwc)
        patch_embed_stages_3_conv_bn_block_1 = self.patch_embed.stages[3].conv_bn.block[1](patch_embed_stages_3_conv_bn_block_0)
        patch_embed_stages_3_conv_bn_block_2 = self.patch_embed.stages[3].conv_bn.block[2](patch_embed_stages_3_conv_bn_block_1)
        patch_embed_stages_3_neuron = self.patch_embed.stages[3].neuron(patch_embed_stages_3_conv_bn_block_2.unflatten(0, (T, N)))
        # region4 (batched over T*N, channels-last): patch_embed.positional_encoding.conv_bn.block.0 -> ...
        patch_embed_stages_3_neuron_flat = patch_embed_stages_3_neuron.flatten(0, 1)
        patch_embed_stages_3_neuron_nhwc = patch_embed_stages_3_neuron_flat.contiguous(memory_format=torch.channels_last)
        patch_embed_positional_encoding_conv_bn_block_0 = self.patch_embed.positional_encoding.conv_bn.block[0](patch_embed_stages_3_neuron_nhwc)
        patch_embed_positional_encoding_conv_bn_block_1 = self.patch_embed.positional_encoding.conv_bn.block[1](patch_embed_positional_encoding_conv_bn_block_0)
        patch_embed_positional_encoding_neuron = self.patch_embed.positional_encoding.neuron(patch_embed_positional_encoding_conv_bn_block_1.unflatten(0, (T, N)))
        # region5 (batched over T*N, channels-last): patch_embed.add_0 -> blocks.0.reshape_0 -> ...
        patch_embed_positional_encoding_neuron_flat = patch_embed_positional_encoding_neuron.flatten(0, 1)
        patch_embed_add_0 = patch_embed_positional_encoding_neuron_flat + patch_embed_stages_3_neuron_flat
        blocks_0_reshape_0 = patch_embed_add_0.reshape(patch_embed_add_0.shape[0], 64, 64)
        blocks_0_attn_qkv_conv_bn_0 = fused.pointwise_conv1d(self.blocks[0].attn.qkv_conv_bn[0], blocks_0_reshape_0)
        blocks_0_attn_qkv_conv_bn_1 = fused.tokens_batch_norm(self.blocks[0].attn.qkv_conv_bn[1], blocks_0_attn_qkv_conv_bn_0)
        blocks_0_attn_qkv_lif = self.blocks[0].attn.qkv_lif(blocks_0_attn_qkv_conv_bn_1.unflatten(0, (T, N)))
        # region6 (batched over T*N): blocks.0.attn.reshape_0 -> blocks.0.attn.chunk_1.0 -> ...
        blocks_0_attn_qkv_lif_flat = blocks_0_attn_qkv_lif.flatten(0, 1)
        blocks_0_attn_reshape_0 = blocks_0_attn_qkv_lif_flat.reshape(blocks_0_attn_qkv_lif_flat.shape[0], 6, 32, 64)
        blocks_0_attn_chunk_1_0 = blocks_0_attn_reshape_0.chunk(3, 1)[0]
        blocks_0_attn_chunk_1_1 = blocks_0_attn_reshape_0.chunk(3, 1)[1]
        blocks_0_attn_chunk_1_2 = blocks_0_attn_reshape_0.chunk(3, 1)[2]
        blocks_0_attn_transpose_2 = blocks_0_attn_chunk_1_1.transpose(-2, -1)
        blocks_0_attn_matmul_3 = blocks_0_attn_chunk_1_2 @ blocks_0_attn_transpose_2
        blocks_0_attn_matmul_4 = blocks_0_attn_matmul_3 @ blocks_0_attn_chunk_1_0
        blocks_0_attn_scale_5 = blocks_0_attn_matmul_4 * 0.125
        blocks_0_attn_attn_lif = self.blocks[0].attn.attn_lif(blocks_0_attn_scale_5.unflatten(0, (T, N)))
        # region7 (batched over T*N, channels-last): blocks.0.attn.reshape_6 -> ...
        blocks_0_attn_attn_lif_flat = blocks_0_attn_attn_lif.flatten(0, 1)
        blocks_0_attn_reshape_6 = blocks_0_attn_attn_lif_flat.reshape(blocks_0_attn_attn_lif_flat.shape[0], 64, 64)
        blocks_0_attn_proj_conv_bn_0 = fused.pointwise_conv1d(self.blocks[0].attn.proj_conv_bn[0], blocks_0_attn_reshape_6)
        blocks_0_attn_proj_conv_bn_1 = fused.tokens_batch_norm(self.blocks[0].attn.proj_conv_bn[1], blocks_0_attn_proj_conv_bn_0)
        blocks_0_attn_proj_lif = self.blocks[0].attn.proj_lif(blocks_0_attn_proj_conv_bn_1.unflatten(0, (T, N)))
        # region8 (batched over T*N, channels-last): blocks.0.add_1 -> blocks.0.mlp.fc1.0 -> ...
        blocks_0_attn_proj_lif_flat = blocks_0_attn_proj_lif.flatten(0, 1)
        blocks_0_add_1 = blocks_0_reshape_0 + blocks_0_attn_proj_lif_flat
        blocks_0_mlp_fc1_0 = fused.pointwise_conv1d(self.blocks[0].mlp.fc1[0], blocks_0_add_1)
        blocks_0_mlp_fc1_1 = fused.tokens_batch_norm(self.blocks[0].mlp.fc1[1], blocks_0_mlp_fc1_0)
        blocks_0_mlp_neuron1 = self.blocks[0].mlp.neuron1(blocks_0_mlp_fc1_1.unflatten(0, (T, N)))
        # region9 (batched over T*N, channels-last): blocks.0.mlp.fc2.0 -> blocks.0.mlp.fc2.1
        blocks_0_mlp_neuron1_flat = blocks_0_mlp_neuron1.flatten(0, 1)
        blocks_0_mlp_fc2_0 = fused.pointwise_conv1d(self.blocks[0].mlp.fc2[0], blocks_0_mlp_neuron1_flat)
        blocks_0_mlp_fc2_1 = fused.tokens_batch_norm(self.blocks[0].mlp.fc2[1], blocks_0_mlp_fc2_0)
        blocks_0_mlp_neuron2 = self.blocks[0].mlp.neuron2(blocks_0_mlp_fc2_1.unflatten(0, (T, N)))
        # region10 (batched over T*N): blocks.0.add_2 -> blocks.0.reshape_3 -> reshape_0 -> ...
        blocks_0_mlp_neuron2_flat = blocks_0_mlp_neuron2.flatten(0, 1)
        blocks_0_add_2 = blocks_0_add_1 + blocks_0_mlp_neuron2_flat
        blocks_0_reshape_3 = blocks_0_add_2.reshape(blocks_0_add_2.shape[0], 64, 8, 8)
        reshape_0 = blocks_0_reshape_3.reshape(blocks_0_reshape_3.shape[0], 64, 64)
        mean_1 = reshape_0.mean(-1)
        head = self.head(mean_1)
        return head.unflatten(0, (T, N))

    def single_step_forward(self, img):
        """One time step: inputs img: [N, 3, 32, 32]."""
        self.check_input('img', img, (3, 32, 32), static=False)
        # region0: patch_embed.stages.0.conv_bn.block.0 -> patch_embed.stages.0.conv_bn.block.1
        patch_embed_stages_0_conv_bn_block_0 = self.patch_embed.stages[0].conv_bn.block[0](img)
        patch_embed_stages_0_conv_bn_block_1 = self.patch_embed.stages[0].conv_bn.block[1](patch_embed_stages_0_conv_bn_block_0)
        patch_embed_stages_0_neuron = self.patch_embed.stages[0].neuron(patch_embed_stages_0_conv_bn_block_1)
        # region1: patch_embed.stages.1.conv_bn.block.0 -> patch_embed.stages.1.conv_bn.block.1
        patch_embed_stages_1_conv_bn_block_0 = self.patch_embed.stages[1].conv_bn.block[0](patch_embed_stages_0_neuron)
        patch_embed_stages_1_conv_bn_block_1 = self.patch_embed.stages[1].conv_bn.block[1](patch_embed_stages_1_conv_bn_block_0)
        patch_embed_stages_1_neuron = self.patch_embed.stages[1].neuron(patch_embed_stages_1_conv_bn_block_1)
        # region2: patch_embed.stages.2.conv_bn.block.0 -> ...
        patch_embed_stages_2_conv_bn_block_0 = self.patch_embed.stages[2].conv_bn.block[0](patch_embed_stages_1_neuron)
        patch_embed_stages_2_conv_bn_block_1 = self.patch_embed.stages[2].conv_bn.block[1](patch_embed_stages_2_conv_bn_block_0)
        patch_embed_stages_2_conv_bn_block_2 = self.patch_embed.stages[2].conv_bn.block[2](patch_embed_stages_2_conv_bn_block_1)
        patch_embed_stages_2_neuron = self.patch_embed.stages[2].neuron(patch_embed_stages_2_conv_bn_block_2)
        # region3: patch_embed.stages.3.conv_bn.block.0 -> ...
        patch_embed_stages_3_conv_bn_block_0 = self.patch_embed.stages[3].conv_bn.block[0](patch_embed_stages_2_neuron)
        patch_embed_stages_3_conv_bn_block_1 = self.patch_embed.stages[3].conv_bn.block[1](patch_embed_stages_3_conv_bn_block_0)
        patch_embed_stages_3_conv_bn_block_2 = self.patch_embed.stages[3].conv_bn.block[2](patch_embed_stages_3_conv_bn_block_1)
        patch_embed_stages_3_neuron = self.patch_embed.stages[3].neuron(patch_embed_stages_3_conv_bn_block_2)
        # region4: patch_embed.positional_encoding.conv_bn.block.0 -> ...
        patch_embed_positional_encoding_conv_bn_block_0 = self.patch_embed.positional_encoding.conv_bn.block[0](patch_embed_stages_3_neuron)
        patch_embed_positional_encoding_conv_bn_block_1 = self.patch_embed.positional_encoding.conv_bn.block[1](patch_embed_positional_encoding_conv_bn_block_0)
        patch_embed_positional_encoding_neuron = self.patch_embed.positional_encoding.neuron(patch_embed_positional_encoding_conv_bn_block_1)
        # region5: patch_embed.add_0 -> blocks.0.reshape_0 -> blocks.0.attn.qkv_conv_bn.0 -> ...
        patch_embed_add_0 = patch_embed_positional_encoding_neuron + patch_embed_stages_3_neuron
        blocks_0_reshape_0 = patch_embed_add_0.reshape(patch_embed_add_0.shape[0], 64, 64)
        blocks_0_attn_qkv_conv_bn_0 = fused.pointwise_conv1d(self.blocks[0].attn.qkv_conv_bn[0], blocks_0_reshape_0)
        blocks_0_attn_qkv_conv_bn_1 = fused.tokens_batch_norm(self.blocks[0].attn.qkv_conv_bn[1], blocks_0_attn_qkv_conv_bn_0)
        blocks_0_attn_qkv_lif = self.blocks[0].attn.qkv_lif(blocks_0_attn_qkv_conv_bn_1)
        # region6: blocks.0.attn.reshape_0 -> blocks.0.attn.chunk_1.0 -> ...
        blocks_0_attn_reshape_0 = blocks_0_attn_qkv_lif.reshape(blocks_0_attn_qkv_lif.shape[0], 6, 32, 64)
        blocks_0_attn_chunk_1_0 = blocks_0_attn_reshape_0.chunk(3, 1)[0]
        blocks_0_attn_chunk_1_1 = blocks_0_attn_reshape_0.chunk(3, 1)[1]
        blocks_0_attn_chunk_1_2 = blocks_0_attn_reshape_0.chunk(3, 1)[2]
        blocks_0_attn_transpose_2 = blocks_0_attn_chunk_1_1.transpose(-2, -1)
        blocks_0_attn_matmul_3 = blocks_0_attn_chunk_1_2 @ blocks_0_attn_transpose_2
        blocks_0_attn_matmul_4 = blocks_0_attn_matmul_3 @ blocks_0_attn_chunk_1_0
        blocks_0_attn_scale_5 = blocks_0_attn_matmul_4 * 0.125
        blocks_0_attn_attn_lif = self.blocks[0].attn.attn_lif(blocks_0_attn_scale_5)
        # region7: blocks.0.attn.reshape_6 -> blocks.0.attn.proj_conv_bn.0 -> ...
        blocks_0_attn_reshape_6 = blocks_0_attn_attn_lif.reshape(blocks_0_attn_attn_lif.shape[0], 64, 64)
        blocks_0_attn_proj_conv_bn_0 = fused.pointwise_conv1d(self.blocks[0].attn.proj_conv_bn[0], blocks_0_attn_reshape_6)
        blocks_0_attn_proj_conv_bn_1 = fused.tokens_batch_norm(self.blocks[0].attn.proj_conv_bn[1], blocks_0_attn_proj_conv_bn_0)
        blocks_0_attn_proj_lif = self.blocks[0].attn.proj_lif(blocks_0_attn_proj_conv_bn_1)
        # region8: blocks.0.add_1 -> blocks.0.mlp.fc1.0 -> blocks.0.mlp.fc1.1
        blocks_0_add_1 = blocks_0_reshape_0 + blocks_0_attn_proj_lif
        blocks_0_mlp_fc1_0 = fused.pointwise_conv1d(self.blocks[0].mlp.fc1[0], blocks_0_add_1)
        blocks_0_mlp_fc1_1 = fused.tokens_batch_norm(self.blocks[0].mlp.fc1[1], blocks_0_mlp_fc1_0)
        blocks_0_mlp_neuron1 = self.blocks[0].mlp.neuron1(blocks_0_mlp_fc1_1)
        # region9: blocks.0.mlp.fc2.0 -> blocks.0.mlp.fc2.1
        blocks_0_mlp_fc2_0 = fused.pointwise_conv1d(self.blocks[0].mlp.fc2[0], blocks_0_mlp_neuron1)
        blocks_0_mlp_fc2_1 = fused.tokens_batch_norm(self.blocks[0].mlp.fc2[1], blocks_0_mlp_fc2_0)
        blocks_0_mlp_neuron2 = self.blocks[0].mlp.neuron2(blocks_0_mlp_fc2_1)
        # region10: blocks.0.add_2 -> blocks.0.reshape_3 -> reshape_0 -> mean_1 -> head
        blocks_0_add_2 = blocks_0_add_1 + blocks_0_mlp_neuron2
        blocks_0_reshape_3 = blocks_0_add_2.reshape(blocks_0_add_2.shape[0], 64, 8, 8)
        reshape_0 = blocks_0_reshape_3.reshape(blocks_0_reshape_3.shape[0], 64, 64)
        mean_1 = reshape_0.mean(-1)
        head = self.head(mean_1)
        return head
