# Compiled by snndsl 0.1.0 from 'examples/digits_rows.snn', model DigitsRows.
# Generated code: edit the .snn file and recompile rather than editing this file.
from torch import nn

from snndsl.runtime import neuron, recurrent, surrogate
from snndsl.runtime.model import Block, CompiledModule


# parameters: hidden=128, num_classes=10
class DigitsRows(CompiledModule):
    """The spiking network `DigitsRows`: call it on [T, N, ...] (multi-step) or [N, ...] (single-step)."""

    def __init__(self, step_mode: str = "m", carry_state: bool = False):
        super().__init__(step_mode, carry_state)
        # rnn: block RecurrentLIF(n_in=8, n=128)
        self.rnn = Block('RecurrentLIF')
        self.rnn.fc = nn.Linear(8, 128)
        self.rnn.rec = nn.Linear(128, 128, bias=False)
        self.rnn.sn = neuron.LIFNode(tau=2.0, v_threshold=0.5, surrogate_function=surrogate.ATan(), detach_reset=True)
        self.fc_out = nn.Linear(128, 10)
        self.readout = neuron.NonSpikingLIFNode(tau=2.0)

    def multi_step_forward(self, row, T: int | None = None):
        """Inputs row: [T, N, 8]."""
        self.check_input('row', row, (8,), static=False)
        T, N = row.shape[:2]
        # region0 (batched over T*N): rnn.fc
        row_flat = row.flatten(0, 1)
        rnn_fc = self.rnn.fc(row_flat)
        # rnn.sn: recurrent layer (rnn.rec reads its spikes one step later), one fused operation over T
        rnn_sn = recurrent.recurrent_neuron(
            rnn_fc.unflatten(0, (T, N)), self.rnn.rec.weight, self.rnn.rec.bias, self.rnn.sn,
            self.last_feedback('rnn.prev_s_0', (N, 128)))
        self.store_feedback('rnn.prev_s_0', rnn_sn[-1])
        # region1 (batched over T*N): fc_out
        rnn_sn_flat = rnn_sn.flatten(0, 1)
        fc_out = self.fc_out(rnn_sn_flat)
        readout = self.readout(fc_out.unflatten(0, (T, N)))
        return readout

    def single_step_forward(self, row):
        """One time step: inputs row: [N, 8]."""
        self.check_input('row', row, (8,), static=False)
        # region0: rnn.fc
        rnn_fc = self.rnn.fc(row)
        rnn_sn = self.rnn.sn(rnn_fc + self.rnn.rec(self.feedback('rnn.prev_s_0', row, (row.shape[0], 128))))
        # region1: fc_out
        fc_out = self.fc_out(rnn_sn)
        readout = self.readout(fc_out)
        self.store_feedback('rnn.prev_s_0', rnn_sn)
        return readout
