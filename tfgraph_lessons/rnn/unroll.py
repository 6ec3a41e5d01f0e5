"""Unrolling a cell over time, masks for sequences of different lengths, the
bidirectional wrapper and gradient clipping.

Two ways to unroll, both giving the same numbers:

- ``unroll(cell, inputs)`` (``mode='while'``, the default): one copy of the
  cell inside a ``tf.while_loop``; the time steps are iterations of the loop,
  the outputs collected in a ``TensorArray``. The graph stays the same size
  whatever the sequence length, and one graph takes any length.
  ``tf.compat.v1.nn.dynamic_rnn`` does the same, but it is deprecated, wants
  objects that pass Keras's ``RNNCell`` checks and hides the loop a student
  should see; this loop is ~30 lines and is the mechanism itself.
- ``mode='static'``: a Python loop that draws the cell once per time step,
  ``T`` copies sharing one set of variables: the unrolled graph of the slides
  (``x_1 -> h_1 -> h_2 ...``), drawn in TensorBoard and in the
  ``rnn_unrolled_graph`` figure. The length must be known when the graph is built.

Backpropagation through time is nothing special in either: ``tf.gradients``
walks back through the loop (or the copies) step by step.

Variable-length sequences: give ``sequence_length`` ([batch] ints); past its
length a sequence's state is carried through unchanged and its outputs are
zeros, so the final state is the state after its last real step (checked in
the tests against running each sequence alone).
"""
import tensorflow as tf

from tfgraph_lessons.core.graph import tf1

__all__ = ["unroll", "bidirectional", "clip_by_global_norm", "minimize_clipped", "sequence_mask",
           "last_relevant"]

MODES = ("while", "static")


def _flat(state):
    if isinstance(state, (tuple, list)):
        return [t for s in state for t in _flat(s)]
    return [state]


def _pack(structure, flat):
    """``flat`` tensors back into the nesting of ``structure``."""
    flat = list(flat)

    def build(s):
        if isinstance(s, (tuple, list)):
            return tuple(build(x) for x in s)
        return flat.pop(0)
    return build(structure)


def _check_inputs(inputs, sequence_length):
    inputs = tf.convert_to_tensor(inputs)
    if inputs.shape.rank != 3:
        raise ValueError(f"unroll expects inputs [batch, time, features], got shape "
                         f"{inputs.shape} (rank {inputs.shape.rank}); a batch of one sequence "
                         "is x[None], one feature per step is x[..., None]")
    if inputs.shape[-1] is None:
        raise ValueError(f"unroll needs a known feature size, got shape {inputs.shape}")
    if sequence_length is not None:
        sequence_length = tf.convert_to_tensor(sequence_length)
        if sequence_length.shape.rank not in (None, 1):
            raise ValueError(f"sequence_length must be a vector [batch], got shape "
                             f"{sequence_length.shape}")
        batch_known, lengths_known = inputs.shape[0], sequence_length.shape[0]
        if batch_known is not None and lengths_known is not None and batch_known != lengths_known:
            raise ValueError(f"sequence_length has {lengths_known} entries for a batch of "
                             f"{batch_known} sequences; give one length per sequence")
        sequence_length = tf.cast(sequence_length, tf.int32)
        # a mismatch only known at run time fails there, with the same words
        check = tf1.assert_equal(tf.shape(sequence_length)[0], tf.shape(inputs)[0], message=(
            "sequence_length must have one entry per sequence of the batch"))
        with tf.control_dependencies([check]):
            sequence_length = tf.identity(sequence_length)
    return inputs, sequence_length


def unroll(cell, inputs, sequence_length=None, initial_state=None, mode="while",
           scope="rnn"):
    """Run ``cell`` over every time step of ``inputs``.

    Args:
      cell: a cell of :mod:`tfgraph_lessons.rnn.cells` (anything with ``zero_state``
        and ``__call__(x, state) -> (output, state)``).
      inputs: ``[batch, time, features]`` (batch-major, as the data is fed).
      sequence_length: optional ``[batch]`` lengths; steps past a sequence's
        length leave its state unchanged and output zeros.
      initial_state: the state at t = 0 (default: the cell's zero state).
      mode: ``'while'`` (a ``tf.while_loop``) or ``'static'`` (one copy per step).
      scope: the name scope of the loop.
    Returns:
      ``(outputs [batch, time, output_size], final_state)``.
    Raises:
      ValueError: inputs not of rank 3, lengths that do not match the batch,
        an unknown mode, or a static unroll of an unknown length.
    """
    if mode not in MODES:
        raise ValueError(f"unknown unroll mode {mode!r}; use 'while' or 'static'")
    with tf.name_scope(scope):
        inputs, sequence_length = _check_inputs(inputs, sequence_length)
        batch = tf.shape(inputs)[0]
        state = initial_state if initial_state is not None else cell.zero_state(batch,
                                                                                 inputs.dtype)
        if mode == "static":
            return _static(cell, inputs, sequence_length, state)
        return _while(cell, inputs, sequence_length, state)


def _masked(t, sequence_length, new, old):
    """``new`` where step ``t`` is inside the sequence, else ``old`` (row by row)."""
    if sequence_length is None:
        return new
    keep = tf.expand_dims(t < sequence_length, 1)       # [batch, 1]
    return tf.where(keep, new, old)


def _static(cell, inputs, sequence_length, state):
    steps = inputs.shape[1]
    if steps is None:
        raise ValueError("a static unroll needs the number of time steps in the input's "
                         f"shape, got {inputs.shape}; use mode='while'")
    outputs = []
    for t in range(steps):
        with tf.name_scope(f"t{t}"):
            out, new_state = cell(inputs[:, t], state)
            if sequence_length is not None:
                out = _masked(t, sequence_length, out, tf.zeros_like(out))
                new_state = _pack(new_state, [_masked(t, sequence_length, n, o) for n, o in
                                              zip(_flat(new_state), _flat(state))])
            outputs.append(out)
            state = new_state
    return tf.stack(outputs, axis=1), state


def _while(cell, inputs, sequence_length, state):
    steps = tf.shape(inputs)[1]
    time_major = tf.transpose(inputs, [1, 0, 2])         # [time, batch, features]
    xs = tf.TensorArray(inputs.dtype, size=steps).unstack(time_major)
    ys = tf.TensorArray(inputs.dtype, size=steps)
    structure = state

    def body(t, ys, *flat):
        old = _pack(structure, flat)
        out, new = cell(xs.read(t), old)
        new_flat = _flat(new)
        if sequence_length is not None:
            out = _masked(t, sequence_length, out, tf.zeros_like(out))
            new_flat = [_masked(t, sequence_length, n, o) for n, o in zip(new_flat, flat)]
        return (t + 1, ys.write(t, out), *new_flat)

    # set the static shapes the loop cannot infer (batch unknown, sizes known)
    flat = _flat(state)
    shapes = [tf.TensorShape([None, s.shape[-1]]) for s in flat]
    result = tf1.while_loop(lambda t, *_: t < steps, body, (tf.constant(0), ys, *flat),
                            shape_invariants=(tf.TensorShape([]), tf.TensorShape(None), *shapes),
                            parallel_iterations=32, swap_memory=False)
    outputs = tf.transpose(result[1].stack(), [1, 0, 2])  # back to [batch, time, units]
    outputs.set_shape([inputs.shape[0], inputs.shape[1], cell.output_size])
    final = list(result[2:])
    for t, start in zip(final, flat):  # the loop forgot the batch size it never changed
        t.set_shape(start.shape)
    return outputs, _pack(structure, final)


def bidirectional(cell_fw, cell_bw, inputs, sequence_length=None, mode="while",
                  scope="bidirectional"):
    """A forward and a backward cell over the same sequences (Schuster & Paliwal 1997).

    The backward cell reads each sequence from its last real step to its first
    (``tf.reverse_sequence``, so padding stays at the end); its outputs are
    turned back into time order. The two cells must have different names (their
    own variables).

    Returns:
      ``(outputs [batch, time, fw_size + bw_size], (fw_final_state, bw_final_state))``.
    """
    if getattr(cell_fw, "name", None) == getattr(cell_bw, "name", None):
        raise ValueError("bidirectional needs two cells with different names "
                         "(each direction has its own variables)")
    with tf.name_scope(scope):
        inputs, lengths = _check_inputs(inputs, sequence_length)
        if lengths is None:
            lengths = tf.fill([tf.shape(inputs)[0]], tf.shape(inputs)[1])
        out_fw, state_fw = unroll(cell_fw, inputs, sequence_length, mode=mode, scope="forward")
        reversed_inputs = tf.reverse_sequence(inputs, lengths, seq_axis=1, batch_axis=0)
        out_bw, state_bw = unroll(cell_bw, reversed_inputs, sequence_length, mode=mode,
                                  scope="backward")
        out_bw = tf.reverse_sequence(out_bw, lengths, seq_axis=1, batch_axis=0)
        return tf.concat([out_fw, out_bw], axis=2), (state_fw, state_bw)


def sequence_mask(sequence_length, steps, dtype="float32"):
    """``[batch, steps]``: 1 for real steps, 0 for padding (to average a loss over real steps)."""
    return tf.sequence_mask(sequence_length, steps, dtype=dtype)


def last_relevant(outputs, sequence_length):
    """The output at each sequence's last real step: ``[batch, units]``."""
    idx = tf.stack([tf.range(tf.shape(outputs)[0]), tf.cast(sequence_length, tf.int32) - 1], 1)
    return tf.gather_nd(outputs, idx)


def clip_by_global_norm(grads_and_vars, max_norm):
    """Scale all gradients together so their global norm is at most ``max_norm``
    (Pascanu et al. 2013): the cure for exploding gradients through time. The
    direction of the update is kept, only its length is capped.

    Returns:
      ``(clipped grads_and_vars, global_norm)`` (the norm before clipping, worth logging).
    """
    pairs = [(g, v) for g, v in grads_and_vars if g is not None]
    grads, variables = zip(*pairs)
    clipped, norm = tf.clip_by_global_norm(list(grads), max_norm)
    return list(zip(clipped, variables)), norm


def minimize_clipped(optimizer, loss, max_norm, global_step=None, var_list=None):
    """``optimizer.minimize(loss)`` with the gradients clipped by their global norm first:
    ``compute_gradients -> clip_by_global_norm -> apply_gradients``, the three steps
    every recurrent lesson trains with (and the RL agents, each network over its own
    ``var_list``).

    Returns:
      ``(train_op, global_norm)`` (the norm before clipping, worth logging).
    """
    clipped, norm = clip_by_global_norm(optimizer.compute_gradients(loss, var_list=var_list),
                                        max_norm)
    return optimizer.apply_gradients(clipped, global_step=global_step), norm
