"""Load container-nested (SpikingJelly-style) checkpoints into compiled models.

A SpikingJelly network built from ``layer.SeqToANNContainer`` / ``MultiStepContainer``
inside ``nn.Sequential`` has keys with one index level per container (``0.0.weight``,
``0.1.running_mean``, ``2.0.weight``), while a compiled model's keys are its module
paths (``conv1.weight``, ``bn1.running_mean``, ``fc.weight``). Both list their modules
in forward order, so the keys can be matched *by position*: the i-th module that owns
tensors in the checkpoint is the i-th such module in the model, provided the two own
the same tensor names with the same shapes. Anything else is refused with the first
mismatch named, so a wrong mapping cannot load silently.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

__all__ = ["map_state_dict_keys", "load_nested_state_dict"]


def _owners(keys: Mapping[str, torch.Tensor]) -> list[tuple[str, dict[str, torch.Tensor]]]:
    groups: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in keys.items():
        owner, _, leaf = key.rpartition(".")
        groups.setdefault(owner, {})[leaf] = value
    return list(groups.items())


def map_state_dict_keys(source: Mapping[str, torch.Tensor],
                        target: nn.Module | Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``source``'s tensors re-keyed with ``target``'s keys, matching modules by position.

    ``target`` is a model (e.g. one compiled by snndsl) or its ``state_dict()``.
    Raises ``ValueError`` when the modules do not line up (different count, tensor
    names or shapes).
    """
    want = target.state_dict() if isinstance(target, nn.Module) else target
    if set(source) == set(want):
        return dict(source)
    src, dst = _owners(source), _owners(want)
    if len(src) != len(dst):
        raise ValueError(f"the checkpoint has {len(src)} modules with tensors, the model "
                         f"{len(dst)}: {_names(src)} vs {_names(dst)}")
    out: dict[str, torch.Tensor] = {}
    for (s_owner, s_leaves), (d_owner, d_leaves) in zip(src, dst, strict=True):
        if set(s_leaves) != set(d_leaves):
            raise ValueError(f"checkpoint module '{s_owner}' has {sorted(s_leaves)} but model module "
                             f"'{d_owner}' has {sorted(d_leaves)}")
        for leaf, value in s_leaves.items():
            if tuple(value.shape) != tuple(d_leaves[leaf].shape):
                raise ValueError(f"'{_join(s_owner, leaf)}' has shape {list(value.shape)} but "
                                 f"'{_join(d_owner, leaf)}' has {list(d_leaves[leaf].shape)}")
            out[_join(d_owner, leaf)] = value
    return out


def load_nested_state_dict(model: nn.Module, state_dict: Mapping[str, torch.Tensor],
                           strict: bool = True) -> None:
    """``model.load_state_dict`` for a checkpoint whose keys are nested differently."""
    model.load_state_dict(map_state_dict_keys(state_dict, model), strict=strict)


def _join(owner: str, leaf: str) -> str:
    return f"{owner}.{leaf}" if owner else leaf


def _names(groups: list[tuple[str, dict[str, torch.Tensor]]]) -> str:
    names = [g or "<root>" for g, _ in groups]
    return "[" + ", ".join(names[:8]) + (", ..." if len(names) > 8 else "") + "]"
