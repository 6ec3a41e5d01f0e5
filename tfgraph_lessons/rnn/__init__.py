"""Recurrent networks from ``get_variable`` and ``tf.nn``: the RNN chapter's building blocks.

:mod:`~tfgraph_lessons.rnn.cells` (vanilla RNN, LSTM, GRU, stacking with
dropout between layers) and :mod:`~tfgraph_lessons.rnn.unroll` (a
``tf.while_loop`` or a static unroll over time, masks for variable lengths,
the bidirectional wrapper, gradient clipping). The lessons built on them are
``rnn_mnist``, ``char_rnn`` and ``rnn_timeseries``; taught in
``notebooks/07_rnn.ipynb``.
"""
from tfgraph_lessons.rnn.cells import (CELLS, BasicRNNCell, GRUCell, LSTMCell, MultiRNNCell,
                                       RNNCell, make_cell)
from tfgraph_lessons.rnn.unroll import (bidirectional, clip_by_global_norm, last_relevant,
                                        minimize_clipped, sequence_mask, unroll)

__all__ = ["RNNCell", "BasicRNNCell", "LSTMCell", "GRUCell", "MultiRNNCell", "CELLS",
           "make_cell", "unroll", "bidirectional", "clip_by_global_norm", "minimize_clipped", "sequence_mask",
           "last_relevant"]
