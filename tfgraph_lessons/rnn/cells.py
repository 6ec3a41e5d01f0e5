"""Recurrent cells built from ``get_variable`` and ``tf.nn``: one time step each.

Keras 3 removed ``tf.compat.v1.nn.rnn_cell``; these small objects take its
place and keep its shape, so the slides' code reads the same::

    cell = LSTMCell(128)                     # nothing is created yet
    state = cell.zero_state(batch_size)      # (c, h), zeros [batch, 128] each
    output, state = cell(x_t, state)         # one step: variables made on the first call

A cell holds only its sizes. Calling it builds one step of the graph inside
``variable_scope(cell.name, reuse=AUTO_REUSE)``: the first call creates the
variables, every later call (the next time step, the sampling graph) shares
them. Unrolling over time is :func:`tfgraph_lessons.rnn.unroll.unroll`.

Parameters, with the gate order of Keras 3 and PyTorch (i, f, g, o for the
LSTM; z, r, h for the GRU), so a weight copied from either lines up::

    kernel            [input_size, gates * units]   input -> gates
    recurrent_kernel  [units, gates * units]        previous h -> gates
    bias              [gates * units]

Initialisers (Keras's defaults for recurrent layers): Glorot-uniform input
weights, orthogonal recurrent weights (repeated multiplication by an
orthogonal matrix neither explodes nor vanishes at the start), zero biases.

The equations are in each cell's docstring; ``tests/test_rnn_cells.py`` checks
one step of every cell against a NumPy transcription of them, and the
unrolled LSTM and GRU against Keras 3's layers.
"""
import tensorflow as tf

from tfgraph_lessons.core.graph import tf1

__all__ = ["RNNCell", "BasicRNNCell", "LSTMCell", "GRUCell", "MultiRNNCell", "CELLS", "make_cell"]


def tanh(x):
    """``tf.tanh(x)``, the cells' default activation: a function of this module so
    that importing it reads nothing from TensorFlow (see ``core.layers.relu``)."""
    return tf.tanh(x)


def _static_size(x, cell):
    size = x.shape[-1]
    if x.shape.rank != 2 or size is None:
        raise ValueError(f"[{cell}] expects one time step [batch, input_size] with a known "
                         f"input_size, got shape {x.shape}")
    return int(size)


class RNNCell:
    """What every cell shares: its sizes, its scope, the zero state.

    Subclasses set :attr:`gates` and implement :meth:`step`.
    """

    gates = 1

    def __init__(self, units, activation=tanh, name=None):
        if int(units) <= 0:
            raise ValueError(f"a cell needs at least one unit, got {units}")
        self.units = int(units)
        self.activation = activation
        self.name = name or type(self).__name__.replace("Cell", "").lower() or "cell"

    @property
    def state_size(self):
        """The size of the state: an int, or a tuple of ints for a tuple state."""
        return self.units

    @property
    def output_size(self):
        return self.units

    def zero_state(self, batch_size, dtype="float32"):
        """The all-zero state for ``batch_size`` sequences (same structure as :attr:`state_size`)."""
        return _zeros(self.state_size, batch_size, dtype)

    def variables(self, input_size):
        """Create (or fetch, on reuse) the cell's kernel, recurrent kernel and bias."""
        width = self.gates * self.units
        kernel = tf1.get_variable("kernel", [input_size, width], tf.float32,
                                  initializer=tf1.glorot_uniform_initializer())
        recurrent = tf1.get_variable("recurrent_kernel", [self.units, width], tf.float32,
                                     initializer=tf1.orthogonal_initializer())
        bias = tf1.get_variable("bias", [width], tf.float32, initializer=tf1.zeros_initializer())
        return kernel, recurrent, bias

    def __call__(self, x, state):
        """One time step: ``x [batch, input_size]``, ``state`` -> ``(output, new_state)``."""
        input_size = _static_size(x, self.name)
        with tf1.variable_scope(self.name, reuse=tf1.AUTO_REUSE):
            return self.step(x, state, *self.variables(input_size))

    def step(self, x, state, kernel, recurrent, bias):
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}({self.units}, name={self.name!r})"


def _zeros(size, batch_size, dtype):
    if isinstance(size, tuple):
        return tuple(_zeros(s, batch_size, dtype) for s in size)
    return tf.zeros(tf.stack([batch_size, size]), dtype)


class BasicRNNCell(RNNCell):
    """The vanilla (Elman) recurrent cell: ``h_t = tanh(W x_t + U h_{t-1} + b)``.

    Its output is its state. Gradients through many steps multiply by ``U``
    again and again, so they vanish or explode: the reason for the LSTM.
    """

    def step(self, x, h, kernel, recurrent, bias):
        h = self.activation(tf.matmul(x, kernel) + tf.matmul(h, recurrent) + bias)
        return h, h


class LSTMCell(RNNCell):
    """Long short-term memory (Hochreiter & Schmidhuber 1997; forget gate: Gers et al.
    2000; peepholes: Gers & Schmidhuber 2000). The state is ``(c, h)``::

        i = sigmoid(W_i x + U_i h + p_i * c     + b_i)      input gate
        f = sigmoid(W_f x + U_f h + p_f * c     + b_f + forget_bias)
        g = tanh   (W_g x + U_g h               + b_g)      candidate
        c' = f * c + i * g                                  the cell (memory) state
        o = sigmoid(W_o x + U_o h + p_o * c'    + b_o)      output gate
        h' = o * tanh(c')

    ``p_*`` (diagonal peephole weights) exist only with ``peepholes=True``.
    ``forget_bias`` (1.0, as TF1's ``LSTMCell``) is added to the forget gate's
    pre-activation, so the cell starts out remembering (Jozefowicz et al. 2015).
    """

    gates = 4

    def __init__(self, units, forget_bias=1.0, peepholes=False, activation=tanh, name=None):
        super().__init__(units, activation, name)
        self.forget_bias = float(forget_bias)
        self.peepholes = bool(peepholes)

    @property
    def state_size(self):
        return (self.units, self.units)  # (c, h)

    def step(self, x, state, kernel, recurrent, bias):
        c, h = state
        z = tf.matmul(x, kernel) + tf.matmul(h, recurrent) + bias
        i, f, g, o = tf.split(z, 4, axis=1)
        if self.peepholes:
            p_i, p_f, p_o = (tf1.get_variable(n, [self.units], tf.float32,
                                              initializer=tf1.zeros_initializer())
                             for n in ("peephole_i", "peephole_f", "peephole_o"))
            i, f = i + p_i * c, f + p_f * c
        c = tf.sigmoid(f + self.forget_bias) * c + tf.sigmoid(i) * self.activation(g)
        if self.peepholes:
            o = o + p_o * c
        h = tf.sigmoid(o) * self.activation(c)
        return h, (c, h)

    def gate_values(self, x, state):
        """The step's gates and states by name (for the gate-activation figure):
        ``{'i', 'f', 'g', 'o', 'c', 'h'}``, each ``[batch, units]``. Shares the
        cell's variables (call the cell once first)."""
        c, h = state
        with tf1.variable_scope(self.name, reuse=True):
            kernel, recurrent, bias = self.variables(_static_size(x, self.name))
            z = tf.matmul(x, kernel) + tf.matmul(h, recurrent) + bias
            i, f, g, o = tf.split(z, 4, axis=1)
            if self.peepholes:
                p_i, p_f, p_o = (tf1.get_variable(n, [self.units]) for n in
                                 ("peephole_i", "peephole_f", "peephole_o"))
                i, f = i + p_i * c, f + p_f * c
            i, f, g = tf.sigmoid(i), tf.sigmoid(f + self.forget_bias), self.activation(g)
            c = f * c + i * g
            o = tf.sigmoid(o + p_o * c if self.peepholes else o)
        return {"i": i, "f": f, "g": g, "o": o, "c": c, "h": o * self.activation(c)}


class GRUCell(RNNCell):
    """Gated recurrent unit (Cho et al. 2014, arXiv:1406.1078, eqs. 5-8)::

        z = sigmoid(W_z x + U_z h + b_z)                    update gate
        r = sigmoid(W_r x + U_r h + b_r)                    reset gate
        h~ = tanh(W_h x + U_h (r * h) + b_h)                candidate
        h' = z * h + (1 - z) * h~

    The reset gate is applied before the recurrent matrix, as in the paper
    (Keras's ``GRU(reset_after=False)``); the output is the state.
    """

    gates = 3

    def step(self, x, h, kernel, recurrent, bias):
        u = self.units
        xz = tf.matmul(x, kernel) + bias                       # [b, 3u]: z, r, h parts
        hz_r = tf.matmul(h, recurrent[:, :2 * u])              # [b, 2u]
        z = tf.sigmoid(xz[:, :u] + hz_r[:, :u])
        r = tf.sigmoid(xz[:, u:2 * u] + hz_r[:, u:])
        candidate = self.activation(xz[:, 2 * u:] + tf.matmul(r * h, recurrent[:, 2 * u:]))
        h = z * h + (1.0 - z) * candidate
        return h, h


class MultiRNNCell:
    """Cells stacked in depth: the output of layer k is the input of layer k + 1.

    ``keep_prob`` (a float or a scalar tensor, 1.0 for none) drops units of the
    outputs passed between layers (Zaremba et al. 2014: dropout on the
    non-recurrent connections only, never on the state carried through time).
    Each layer gets its own scope, ``<name>/layer_<k>``. The state is the tuple
    of the layers' states.
    """

    def __init__(self, cells, keep_prob=1.0, name="multi"):
        if not cells:
            raise ValueError("MultiRNNCell needs at least one cell")
        self.cells, self.keep_prob, self.name = list(cells), keep_prob, name

    @property
    def state_size(self):
        return tuple(c.state_size for c in self.cells)

    @property
    def output_size(self):
        return self.cells[-1].output_size

    def zero_state(self, batch_size, dtype="float32"):
        return tuple(c.zero_state(batch_size, dtype) for c in self.cells)

    def __call__(self, x, state):
        new_states = []
        with tf1.variable_scope(self.name, reuse=tf1.AUTO_REUSE):
            for k, (cell, s) in enumerate(zip(self.cells, state)):
                if k > 0 and not (isinstance(self.keep_prob, float) and self.keep_prob >= 1.0):
                    x = tf.nn.dropout(x, rate=1.0 - self.keep_prob)
                with tf1.variable_scope(f"layer_{k}"):
                    x, s = cell(x, s)
                new_states.append(s)
        return x, tuple(new_states)

    def __repr__(self):
        return f"MultiRNNCell({self.cells}, keep_prob={self.keep_prob})"


CELLS = {"rnn": BasicRNNCell, "lstm": LSTMCell, "gru": GRUCell}


def make_cell(kind, units, layers=1, keep_prob=1.0, name="rnn"):
    """``kind`` (``rnn``, ``lstm`` or ``gru``) cells of ``units``, ``layers`` deep.

    One layer is the bare cell (scope ``<name>/<kind>``); more are a
    :class:`MultiRNNCell` with dropout ``1 - keep_prob`` between the layers.
    """
    if kind not in CELLS:
        raise ValueError(f"unknown cell {kind!r}; use {', '.join(CELLS)}")
    if layers == 1:
        return CELLS[kind](units, name=f"{name}/{kind}")
    return MultiRNNCell([CELLS[kind](units, name=kind) for _ in range(layers)],
                        keep_prob=keep_prob, name=name)
