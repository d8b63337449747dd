"""User modules for `use` tests: a single-step stateful module and a stateless one."""

from torch import nn


class Accumulator(nn.Module):
    """Single-step only: adds each input to a running sum (state until reset)."""

    def __init__(self, decay: float = 0.5):
        super().__init__()
        self.decay = decay
        self.total = None

    def reset(self):
        self.total = None

    def forward(self, x):
        self.total = x if self.total is None else self.total * self.decay + x
        return self.total


class Double(nn.Module):
    def forward(self, x):
        return 2 * x


class NotAModule:
    pass


def side_effect():
    raise AssertionError("must never be called")


class NoReset(nn.Module):
    """Keeps state but cannot be reset: a `use ... stateful` of it is refused."""

    def forward(self, x):
        return x
