"""DistributedDataParallel over gloo (2 CPU processes) gives the single-process gradients."""

from __future__ import annotations

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import snndsl

MODEL = """
defaults LIF(tau=2.0, detach_reset=true)
model Net() {
    input x: [2, 6, 6]
    return x -> conv: Conv2d(2, 4, 3) -> sn1: LIF() -> Flatten() -> fc: Linear(_, 3) -> sn2: LIF(v_threshold=0.3)
}
"""


def _net():
    torch.manual_seed(0)
    net = snndsl.compile_source(MODEL, "ddp.snn")
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(3.0)
    return net


def _data():
    g = torch.Generator().manual_seed(1)
    return torch.rand(4, 8, 2, 6, 6, generator=g), torch.randn(4, 8, 3, generator=g)


def _worker(rank: int, world: int, store: str, out: str) -> None:
    # A file store, not a TCP port: no race with other processes for a "free" port.
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    torch.set_num_threads(1)
    ddp = torch.nn.parallel.DistributedDataParallel(_net())
    x, g = _data()
    per = x.shape[1] // world
    xs, gs = x[:, rank * per:(rank + 1) * per], g[:, rank * per:(rank + 1) * per]
    # the loss is a sum over the batch, so average-reduced grads are scaled back by world
    (ddp(xs) * gs).sum().mul(world).backward()
    if rank == 0:
        torch.save({k: p.grad for k, p in ddp.module.named_parameters()}, out)
    # Both ranks leave together: a rank that tears gloo down while its peer still talks
    # to it made the other abort ("terminate called without an active exception").
    dist.barrier()
    dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available")
def test_ddp_gradients_equal_single_process(tmp_path):
    out = str(tmp_path / "grads.pt")
    store = str(tmp_path / "store")
    mp.start_processes(_worker, args=(2, store, out), nprocs=2, join=True, start_method="spawn")
    ddp_grads = torch.load(out, weights_only=True)
    net = _net()
    x, g = _data()
    (net(x) * g).sum().backward()
    for k, p in net.named_parameters():
        torch.testing.assert_close(ddp_grads[k], p.grad, atol=1e-5, rtol=1e-4, msg=k)
        assert p.grad.abs().sum() > 0, f"{k} got no gradient: the test would prove nothing"
