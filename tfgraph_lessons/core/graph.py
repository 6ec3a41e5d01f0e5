"""Graph-mode setup: the ``tf1`` name the slides use, and one fresh graph per lesson.

TensorFlow 2 runs eagerly by default; the slides' mechanism (draw the graph,
then run it in a Session) needs graph mode. :func:`graph_mode` switches it on
once per process and is safe to call again (a second import, a notebook
re-running its first cell). Every lesson builds inside :func:`new_graph`, so
re-running a notebook cell never adds a second copy of a network to a graph
that a long-lived kernel still holds.
"""
import contextlib

import tensorflow as tf

from tfgraph_lessons.core import startup

# tf.compat.v1 (a stand-in that loads TensorFlow on first use when a --help run deferred it)
tf1 = startup.attribute(tf, "compat.v1")


def graph_mode():
    """Switch TensorFlow to TF1 graph mode (idempotent)."""
    if tf.executing_eagerly():
        tf1.disable_eager_execution()
    tf.get_logger().setLevel("ERROR")


@contextlib.contextmanager
def new_graph(seed=None):
    """Build in a fresh ``tf.Graph``: ``with new_graph(seed=0) as g: ...``.

    Args:
      seed: graph-level random seed (``tf1.set_random_seed``), or None.
    Yields:
      the new graph, installed as the default graph inside the block.
    """
    graph_mode()
    g = tf.Graph()
    with g.as_default():
        if seed is not None:
            tf1.set_random_seed(seed)
        yield g


startup.when_loaded(graph_mode)  # now, or as soon as a deferred TensorFlow loads
