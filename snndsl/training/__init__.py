"""Helpers of :mod:`snndsl.train`: data sets, spike monitors and pictures.

The public entry points are :func:`snndsl.train.run_training` and
:func:`snndsl.train.evaluate_checkpoint`. Nothing here imports scikit-learn,
matplotlib or tqdm at import time: they are optional (``pip install "snndsl[examples]"``)
and are loaded when a command needs them.
"""
