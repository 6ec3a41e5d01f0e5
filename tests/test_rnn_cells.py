"""The RNN building blocks against references: NumPy transcriptions of the papers'
equations (one step of every cell), Keras 3's ``LSTM`` / ``GRU(reset_after=False)``
(the unrolled layers), finite differences (backpropagation through time), and
the same sequences run one by one (masking, the bidirectional wrapper).

Keras is only a reference here. The library switches TensorFlow to graph mode
at import, so the Keras layers run eagerly in a child process
(:data:`KERAS_SCRIPT`, weights in and outputs out through ``.npz`` files): the
two worlds never share a process, whatever either does to global state.
"""
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tfgraph_lessons.core.graph import new_graph, tf1
from tfgraph_lessons.rnn import (BasicRNNCell, GRUCell, LSTMCell, MultiRNNCell, bidirectional,
                                 clip_by_global_norm, make_cell, unroll)

SEED = 0
MODES = ("while", "static")


# --- NumPy twins of the published equations (float64) -------------------------------------

def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def np_rnn_step(x, h, kernel, recurrent, bias):
    """Elman (1990): ``h_t = tanh(W x_t + U h_{t-1} + b)``; the output is the state."""
    h = np.tanh(x @ kernel + h @ recurrent + bias)
    return h, h


def np_lstm_step(x, state, kernel, recurrent, bias, forget_bias, peepholes=None):
    """LSTM (Hochreiter & Schmidhuber 1997) with a forget gate (Gers et al. 2000) and
    peepholes (Gers & Schmidhuber 2000): the input and forget gates look at
    ``c_{t-1}``, the output gate at ``c_t``. Blocks in Keras order i, f, g, o.

    Returns:
      ``(h_t, (c_t, h_t), gates)`` with ``gates`` the dict of i, f, g, o.
    """
    c, h = state
    W, U, b = (np.split(a, 4, axis=-1) for a in (kernel, recurrent, bias))
    p_i, p_f, p_o = peepholes if peepholes is not None else (0.0, 0.0, 0.0)
    i = sigmoid(x @ W[0] + h @ U[0] + p_i * c + b[0])
    f = sigmoid(x @ W[1] + h @ U[1] + p_f * c + b[1] + forget_bias)
    g = np.tanh(x @ W[2] + h @ U[2] + b[2])
    c = f * c + i * g
    o = sigmoid(x @ W[3] + h @ U[3] + p_o * c + b[3])
    h = o * np.tanh(c)
    return h, (c, h), {"i": i, "f": f, "g": g, "o": o}


def np_gru_step(x, h, kernel, recurrent, bias):
    """GRU (Cho et al. 2014, eqs. 5-8), the reset gate applied before ``U``.
    Blocks in Keras order z, r, h."""
    W, U, b = (np.split(a, 3, axis=-1) for a in (kernel, recurrent, bias))
    z = sigmoid(x @ W[0] + h @ U[0] + b[0])
    r = sigmoid(x @ W[1] + h @ U[1] + b[1])
    h_tilde = np.tanh(x @ W[2] + (r * h) @ U[2] + b[2])
    h = z * h + (1.0 - z) * h_tilde
    return h, h


# --- helpers ----------------------------------------------------------------------------------

def randomize(sess, rng, scale=0.5):
    """Give every variable of the graph random non-zero values (biases and peepholes
    included, which start at zero); return them by name as float64 arrays."""
    values = {}
    for v in tf1.global_variables():
        value = rng.normal(0.0, scale, v.shape.as_list()).astype(np.float32)
        v.load(value, sess)
        values[v.op.name] = value.astype(np.float64)
    return values


def nested_constant(state):
    return tf.nest.map_structure(lambda a: tf.constant(a, tf.float32), state)


def flat(state):
    return [np.asarray(a) for a in tf.nest.flatten(state)]


def build_and_run(build, rng=None):
    """``build()`` in a fresh graph, variables initialised (and randomised if ``rng``);
    return (the values of what ``build`` returned, the variables' values)."""
    with new_graph(SEED):
        fetches = build()
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            values = randomize(sess, rng) if rng is not None else {}
            return sess.run(fetches), values


# --- one step of each cell = the equations -------------------------------------------------

@pytest.mark.parametrize("cell_class,np_step", [(BasicRNNCell, np_rnn_step),
                                                (GRUCell, np_gru_step)], ids=["elman", "gru"])
def test_rnn_and_gru_steps_are_their_equations(cell_class, np_step):
    """Elman's cell, and the GRU with the reset gate before the recurrent matrix."""
    rng = np.random.default_rng(1)
    x, h = rng.normal(size=(3, 5)), rng.normal(size=(3, 4))
    cell = cell_class(4, name="cell")
    (out, new), v = build_and_run(lambda: cell(nested_constant(x), nested_constant(h)), rng)
    ref_out, ref_new = np_step(x, h, v["cell/kernel"], v["cell/recurrent_kernel"],
                               v["cell/bias"])
    np.testing.assert_allclose(out, ref_out, atol=1e-5)
    np.testing.assert_allclose(new, ref_new, atol=1e-5)


@pytest.mark.parametrize("peepholes", [False, True])
@pytest.mark.parametrize("forget_bias", [1.0, 0.0])
def test_lstm_step_is_the_lstm_equations(peepholes, forget_bias):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 5))
    state = (rng.normal(size=(3, 4)), rng.normal(size=(3, 4)))  # (c, h), both non-zero
    cell = LSTMCell(4, forget_bias=forget_bias, peepholes=peepholes, name="lstm")

    def build():
        x_t, s_t = nested_constant(x), nested_constant(state)
        out, new = cell(x_t, s_t)
        return out, new, cell.gate_values(x_t, s_t)
    (out, new, gates), v = build_and_run(build, rng)
    peeps = tuple(v[f"lstm/peephole_{k}"] for k in "ifo") if peepholes else None
    assert all(np.abs(p).min() > 0 for p in peeps or ())  # the peepholes really take part
    ref_out, ref_new, ref_gates = np_lstm_step(x, state, v["lstm/kernel"],
                                               v["lstm/recurrent_kernel"], v["lstm/bias"],
                                               forget_bias, peeps)
    np.testing.assert_allclose(out, ref_out, atol=1e-5)
    for got, want in zip(flat(new), flat(ref_new)):
        np.testing.assert_allclose(got, want, atol=1e-5)
    # the figure helper reports the same step, gate by gate
    for k in "ifgo":
        np.testing.assert_allclose(gates[k], ref_gates[k], atol=1e-5, err_msg=k)
    np.testing.assert_allclose(gates["c"], ref_new[0], atol=1e-5)
    np.testing.assert_allclose(gates["h"], ref_new[1], atol=1e-5)


# --- unrolling with a given initial state --------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_initial_state_continues_a_sequence(mode):
    """Two unrolls, the second starting from the first's final state, = one unroll
    (what a char-RNN sampler and truncated BPTT rely on)."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 6, 3)).astype(np.float32)
    cell = LSTMCell(4, name="lstm")

    def build():
        whole = unroll(cell, tf.constant(x), mode=mode, scope="whole")
        _, middle = unroll(cell, tf.constant(x[:, :4]), mode=mode, scope="head")
        tail = unroll(cell, tf.constant(x[:, 4:]), initial_state=middle, mode=mode, scope="tail")
        return whole, tail
    ((whole_out, whole_state), (tail_out, tail_state)), _ = build_and_run(build, rng)
    np.testing.assert_allclose(tail_out, whole_out[:, 4:], atol=1e-6)
    for got, want in zip(flat(tail_state), flat(whole_state)):
        np.testing.assert_allclose(got, want, atol=1e-6)


# --- backpropagation through time = finite differences ------------------------------------

def central_differences(f, at, eps):
    """``d f / d at`` by central differences, one entry at a time (float64 arithmetic)."""
    grad = np.zeros(at.shape)
    for idx in np.ndindex(at.shape):
        step = np.zeros(at.shape, at.dtype)
        step[idx] = eps
        grad[idx] = (np.float64(f(at + step)) - np.float64(f(at - step))) / (2 * eps)
    return grad


CELL_MAKERS = {"lstm": lambda units: LSTMCell(units, peepholes=True, name="cell"),
               "gru": lambda units: GRUCell(units, name="cell"),
               "multi": lambda units: make_cell("lstm", units, layers=2, name="cell")}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_gradients_through_time_match_central_differences(kind, mode):
    """The cells make float32 variables, so this is float32 with central differences
    (eps 1e-2: truncation ~eps^2 and rounding ~1e-6/eps stay near 1e-4; measured
    differences are below 3e-5)."""
    rng = np.random.default_rng(6)
    x = rng.normal(size=(2, 3, 2)).astype(np.float32)          # batch 2, 3 steps, 2 features
    with new_graph(SEED):
        x_ph = tf1.placeholder(tf.float32, x.shape)
        outputs, state = unroll(CELL_MAKERS[kind](2), x_ph, mode=mode)
        # a loss that reads every step's output and the final state, weighted at random
        weights = rng.normal(size=outputs.shape.as_list())
        weights[:, 0] = 0.0  # the first step's output is left out: x_1 acts only through time
        loss = tf.reduce_sum(outputs * weights)
        for s in tf.nest.flatten(state):
            loss += tf.reduce_sum(s * rng.normal(size=(2, 2)))  # [batch, units]
        recurrent = {v.op.name: v for v in tf1.global_variables()}["cell/recurrent_kernel"]
        grads = tf.gradients(loss, [recurrent, x_ph])
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            u = randomize(sess, rng)["cell/recurrent_kernel"].astype(np.float32)
            grad_u, grad_x = sess.run(grads, {x_ph: x})

            def loss_at_u(value):
                recurrent.load(value, sess)
                return sess.run(loss, {x_ph: x})
            fd_u = central_differences(loss_at_u, u, 1e-2)
            recurrent.load(u, sess)
            fd_x = central_differences(lambda value: sess.run(loss, {x_ph: value}), x, 1e-2)
    np.testing.assert_allclose(grad_u, fd_u, rtol=1e-3, atol=2e-4)
    np.testing.assert_allclose(grad_x, fd_x, rtol=1e-3, atol=2e-4)
    assert np.abs(grad_x[:, 0]).max() > 1e-2  # ... and its gradient gets back through time


# --- masks: a padded batch = each sequence alone ------------------------------------------

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", ["lstm", "gru", "multi"])
def test_masked_batch_equals_each_sequence_alone(kind, mode):
    rng = np.random.default_rng(7)
    lengths = [5, 2, 0, 3]
    x = rng.normal(size=(4, 5, 2)).astype(np.float32)  # noise, not zeros, past each length
    cell = CELL_MAKERS[kind](3)

    def build():
        batch = unroll(cell, tf.constant(x), sequence_length=lengths, mode=mode, scope="batch")
        alone = {i: unroll(cell, tf.constant(x[i:i + 1, :n]), mode=mode, scope=f"alone{i}")
                 for i, n in enumerate(lengths) if n}
        return batch, alone
    ((outputs, final), alone), _ = build_and_run(build, rng)
    final = flat(final)
    for i, n in enumerate(lengths):
        np.testing.assert_array_equal(outputs[i, n:], 0.0)
        if n == 0:  # an empty sequence keeps the zero state
            assert all(np.all(s[i] == 0.0) for s in final)
            continue
        alone_out, alone_state = alone[i]
        np.testing.assert_allclose(outputs[i, :n], alone_out[0], atol=1e-5)
        for got, want in zip(final, flat(alone_state)):
            np.testing.assert_allclose(got[i], want[0], atol=1e-5)


# --- bidirectional -------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_bidirectional_backward_half_reads_each_sequence_reversed(mode):
    rng = np.random.default_rng(8)
    lengths = [4, 2, 3]
    x = rng.normal(size=(3, 4, 2)).astype(np.float32)
    fw, bw = LSTMCell(3, name="fw"), GRUCell(2, name="bw")

    def build():
        outputs, (_, bw_final) = bidirectional(fw, bw, tf.constant(x), lengths, mode=mode)
        assert outputs.shape.as_list() == [3, 4, 3 + 2]
        alone = [(unroll(fw, tf.constant(x[i:i + 1, :n]), mode=mode, scope=f"fw{i}")[0],
                  unroll(bw, tf.constant(x[i:i + 1, :n][:, ::-1]), mode=mode, scope=f"bw{i}"))
                 for i, n in enumerate(lengths)]
        return outputs, bw_final, alone
    (outputs, bw_final, alone), _ = build_and_run(build, rng)
    for i, n in enumerate(lengths):
        fw_out, (bw_out, bw_state) = alone[i]
        np.testing.assert_allclose(outputs[i, :n, :3], fw_out[0], atol=1e-5)
        # the backward output at time t read x[n-1] ... x[t]: reversed back into time order
        np.testing.assert_allclose(outputs[i, :n, 3:], bw_out[0, ::-1], atol=1e-5)
        np.testing.assert_allclose(bw_final[i], bw_state[0], atol=1e-5)
        np.testing.assert_array_equal(outputs[i, n:], 0.0)


# --- variables: names, shapes, counts, sharing; dropout between layers ---------------------

def test_make_cell_variable_names_shapes_and_initial_values():
    with new_graph(SEED):
        x = tf.zeros([2, 5, 3])
        unroll(make_cell("lstm", 4, name="one"), x)
        unroll(make_cell("lstm", 4, layers=2, name="two"), x, scope="rnn2")
        variables = tf1.global_variables()
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            values = dict(zip([v.op.name for v in variables], sess.run(variables)))
    assert {name: list(v.shape) for name, v in values.items()} == {
        "one/lstm/kernel": [3, 16], "one/lstm/recurrent_kernel": [4, 16], "one/lstm/bias": [16],
        "two/layer_0/lstm/kernel": [3, 16], "two/layer_0/lstm/recurrent_kernel": [4, 16],
        "two/layer_0/lstm/bias": [16],
        "two/layer_1/lstm/kernel": [4, 16], "two/layer_1/lstm/recurrent_kernel": [4, 16],
        "two/layer_1/lstm/bias": [16]}
    # Keras's initialisers: Glorot-uniform kernel, orthogonal recurrent kernel, zero bias
    kernel, recurrent = values["one/lstm/kernel"], values["one/lstm/recurrent_kernel"]
    assert np.abs(kernel).max() <= np.sqrt(6.0 / (3 + 16)) and kernel.std() > 0.1
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(4), atol=1e-5)
    np.testing.assert_array_equal(values["one/lstm/bias"], 0.0)


@pytest.mark.parametrize("kind,gates", [("rnn", 1), ("lstm", 4), ("gru", 3)])
def test_parameter_counts_follow_the_gate_formula(kind, gates):
    inputs, units = 3, 5

    def layer(n_in):  # each gate: a weight per input and per unit of h, and a bias
        return gates * (units * (n_in + units) + units)
    with new_graph(SEED):
        unroll(make_cell(kind, units, layers=2), tf.zeros([2, 4, inputs]), mode="static")
        count = sum(int(np.prod(v.shape.as_list())) for v in tf1.trainable_variables())
    assert count == layer(inputs) + layer(units)
    if kind == "lstm":  # peepholes add three diagonal vectors
        with new_graph(SEED):
            unroll(LSTMCell(units, peepholes=True), tf.zeros([2, 4, inputs]))
            count = sum(int(np.prod(v.shape.as_list())) for v in tf1.trainable_variables())
        assert count == layer(inputs) + 3 * units


@pytest.mark.parametrize("mode", MODES)
def test_a_cell_unrolled_twice_shares_its_variables(mode):
    rng = np.random.default_rng(9)
    x = rng.normal(size=(2, 3, 3)).astype(np.float32)
    cell = make_cell("gru", 4, layers=2, name="shared")

    def build():
        first, _ = unroll(cell, tf.constant(x), mode=mode, scope="first")
        names = [v.op.name for v in tf1.global_variables()]
        second, _ = unroll(cell, tf.constant(x), mode=mode, scope="second")
        assert [v.op.name for v in tf1.global_variables()] == names  # no new variables
        assert len(names) == 6
        return first, second
    (first, second), _ = build_and_run(build, rng)
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("keep_prob,fed,differ", [(0.5, False, True), (1.0, False, False),
                                                  (0.5, True, True), (1.0, True, False)])
def test_dropout_between_layers_only_when_keep_prob_below_one(keep_prob, fed, differ):
    """``keep_prob`` a float, or a tensor fed at run time (training vs evaluation)."""
    x = np.random.default_rng(10).normal(size=(2, 3, 3)).astype(np.float32)
    with new_graph(SEED):
        kp = tf1.placeholder_with_default(1.0, []) if fed else keep_prob
        outputs, (state_0, state_1) = unroll(make_cell("lstm", 8, layers=2, keep_prob=kp),
                                             tf.constant(x))
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            feed = {kp: keep_prob} if fed else None
            runs = [sess.run((outputs, state_0, state_1), feed) for _ in range(2)]
    (out_a, s0_a, s1_a), (out_b, s0_b, s1_b) = runs
    assert (not np.array_equal(out_a, out_b)) == differ
    assert (not np.array_equal(s1_a[0], s1_b[0])) == differ
    # dropped between the layers only: not on the input, not on the state through time
    for a, b in zip(s0_a, s0_b):
        np.testing.assert_array_equal(a, b)


# --- clipping ------------------------------------------------------------------------------

def test_clip_by_global_norm_caps_the_norm_and_keeps_the_direction():
    rng = np.random.default_rng(11)
    with new_graph(SEED):
        outputs, _ = unroll(LSTMCell(3), tf.constant(rng.normal(size=(2, 4, 2)), tf.float32))
        loss = tf.reduce_sum(outputs ** 2)
        tf1.get_variable("unused", [2])  # no gradient (None): left out of the pairs
        pairs = tf1.train.GradientDescentOptimizer(0.1).compute_gradients(loss)
        max_norm = tf1.placeholder(tf.float32, [])
        clipped, norm = clip_by_global_norm(pairs, max_norm)
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            randomize(sess, rng)
            grads = sess.run([g for g, _ in pairs if g is not None])
            expected = np.sqrt(sum(np.sum(np.float64(g) ** 2) for g in grads))
            runs = {m: sess.run(([g for g, _ in clipped], norm), {max_norm: m})
                    for m in (expected / 2, expected * 2)}
    assert [v.op.name for _, v in clipped] == [v.op.name for g, v in pairs if g is not None]
    assert len(clipped) == len(pairs) - 1 == 3
    for max_value, (clipped_grads, got_norm) in runs.items():
        np.testing.assert_allclose(got_norm, expected, rtol=1e-5)  # the norm before clipping
        new_norm = np.sqrt(sum(np.sum(np.float64(g) ** 2) for g in clipped_grads))
        np.testing.assert_allclose(new_norm, min(max_value, expected), rtol=1e-5)
        scale = min(1.0, max_value / expected)  # one factor for all: the direction is kept
        for c, g in zip(clipped_grads, grads):
            np.testing.assert_allclose(c, g * scale, rtol=1e-5, atol=1e-7)


# --- bad input -----------------------------------------------------------------------------

def raises_one_line(needle, build, error=ValueError):
    """``build()`` in a fresh graph raises ``error`` with ``needle`` in a one-line message."""
    with new_graph(SEED), pytest.raises(error, match=needle) as info:
        build()
    assert "\n" not in str(info.value).strip()
    return str(info.value)


@pytest.mark.parametrize("shape", [(4, 3), (2, 4, 3, 1)])
def test_inputs_of_the_wrong_rank_say_the_rank_and_the_fix(shape):
    message = raises_one_line(f"rank {len(shape)}", lambda: unroll(LSTMCell(3), tf.zeros(shape)))
    assert "[batch, time, features]" in message and "x[None]" in message


@pytest.mark.parametrize("build,needle", [
    (lambda: unroll(GRUCell(3), tf.zeros([3, 4, 2]), sequence_length=[[1, 2, 3]]),
     "sequence_length must be a vector"),
    (lambda: unroll(GRUCell(3), tf.zeros([3, 4, 2]), sequence_length=[1, 2]),
     "2 entries for a batch of 3 sequences; give one length per sequence"),
    (lambda: unroll(GRUCell(3), tf.zeros([3, 4, 2]), mode="dynamic"),
     "unknown unroll mode 'dynamic'; use 'while' or 'static'"),
    (lambda: unroll(GRUCell(3), tf1.placeholder(tf.float32, [3, None, 2]), mode="static"),
     "use mode='while'"),
    (lambda: GRUCell(3)(tf.zeros([3, 4, 2]), tf.zeros([3, 3])), r"\[gru\] expects one time step"),
    (lambda: bidirectional(GRUCell(3), GRUCell(2), tf.zeros([3, 4, 2])), "different names"),
    (lambda: make_cell("lstmx", 4), "unknown cell 'lstmx'; use rnn, lstm, gru"),
    (lambda: make_cell("lstm", 0), "at least one unit, got 0"),
    (lambda: MultiRNNCell([]), "at least one cell"),
], ids=["lengths-rank", "lengths-count", "mode", "static-unknown-time", "step-rank",
        "bidirectional-names", "cell-kind", "units", "no-layers"])
def test_bad_arguments_are_one_line_value_errors(build, needle):
    raises_one_line(needle, build)


@pytest.mark.parametrize("mode", MODES)
def test_lengths_for_another_batch_fail_at_run_time_with_the_same_words(mode):
    with new_graph(SEED):
        x = tf1.placeholder(tf.float32, [None, 4, 2])
        lengths = tf1.placeholder(tf.int32, [None])
        outputs, _ = unroll(LSTMCell(3), x, sequence_length=lengths, mode=mode)
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            ok = sess.run(outputs, {x: np.ones((3, 4, 2)), lengths: [4, 1, 2]})
            assert ok.shape == (3, 4, 3)
            with pytest.raises(tf.errors.InvalidArgumentError,
                               match="one entry per sequence"):
                sess.run(outputs, {x: np.ones((3, 4, 2)), lengths: [4, 1]})


# --- the unrolled LSTM and GRU = Keras 3 (last: the child process runs meanwhile) -----------

KERAS_SCRIPT = r"""
import os, sys
os.environ["KERAS_BACKEND"] = "tensorflow"
import numpy as np, keras
w = np.load(sys.argv[1])
out = {}
for kind, layer in (("lstm", keras.layers.LSTM), ("gru", keras.layers.GRU)):
    extra = {"reset_after": False} if kind == "gru" else {}
    rnn = layer(w[kind + "_recurrent"].shape[0], return_sequences=True, return_state=True,
                **extra)
    rnn.build(w["x"].shape)
    assert [v.shape for v in rnn.get_weights()] == [w[kind + k].shape for k in
                                                    ("_kernel", "_recurrent", "_bias")]
    rnn.set_weights([w[kind + "_kernel"], w[kind + "_recurrent"], w[kind + "_bias"]])
    seq, *states = rnn(w["x"])
    out[kind + "_seq"] = seq
    out[kind + "_states"] = np.stack(states[::-1])  # Keras gives (h, c); ours is (c, h)
np.savez(sys.argv[2], **out)
"""


def keras_weights():
    """Random weights for LSTM(4) and GRU(4) on 3 features, and a batch of 3 sequences
    of 6 steps."""
    rng = np.random.default_rng(4)
    units, features = 4, 3
    w = {"x": rng.normal(size=(3, 6, features)).astype(np.float32)}
    for name, gates in (("lstm", 4), ("gru", 3)):
        w[f"{name}_kernel"] = rng.normal(0, 0.5, (features, gates * units)).astype(np.float32)
        w[f"{name}_recurrent"] = rng.normal(0, 0.5, (units, gates * units)).astype(np.float32)
        w[f"{name}_bias"] = rng.normal(0, 0.5, gates * units).astype(np.float32)
    return w


@pytest.fixture(scope="module", autouse=True)
def keras_child(request, tmp_path_factory):
    """Start the Keras reference (a child process: TensorFlow's import alone takes
    seconds) at this file's first test, so it runs while the other tests do; None when
    no selected test needs it. Killed at the end if still running."""
    if not any("keras_reference" in item.fixturenames for item in request.session.items):
        yield None
        return
    folder = tmp_path_factory.mktemp("keras")
    np.savez(folder / "in.npz", **keras_weights())
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3",
               CUDA_VISIBLE_DEVICES="")
    child = subprocess.Popen([sys.executable, "-c", KERAS_SCRIPT, str(folder / "in.npz"),
                              str(folder / "out.npz")], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    yield child, folder
    if child.poll() is None:
        child.kill()
        child.communicate()


@pytest.fixture(scope="module")
def keras_reference(keras_child):
    """``(weights, Keras 3's outputs for them)`` from the child process."""
    child, folder = keras_child
    _, err = child.communicate(timeout=300)
    if child.returncode != 0:
        pytest.fail(f"the Keras reference failed:\n{err[-3000:]}")
    return keras_weights(), dict(np.load(folder / "out.npz"))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_unrolled_lstm_and_gru_equal_keras(keras_reference, kind, mode):
    w, ref = keras_reference
    bias = w[f"{kind}_bias"].copy()
    if kind == "lstm":
        cell = LSTMCell(4, forget_bias=1.0, name=kind)
        # Keras keeps the whole bias in its variable; ours adds forget_bias to the f block
        # [u:2u] at run time, so the same network stores Keras's bias minus forget_bias
        bias[4:8] -= cell.forget_bias
    else:
        cell = GRUCell(4, name=kind)  # = Keras's GRU(reset_after=False)
    with new_graph(SEED):
        fetches = unroll(cell, tf.constant(w["x"]), mode=mode)
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            named = {v.op.name: v for v in tf1.global_variables()}
            for name, value in (("kernel", w[f"{kind}_kernel"]),
                                ("recurrent_kernel", w[f"{kind}_recurrent"]), ("bias", bias)):
                named[f"{kind}/{name}"].load(value, sess)
            outputs, state = sess.run(fetches)
    np.testing.assert_allclose(outputs, ref[f"{kind}_seq"], atol=1e-5)
    np.testing.assert_allclose(np.stack(flat(state)), ref[f"{kind}_states"], atol=1e-5)
