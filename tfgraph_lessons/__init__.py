"""tfgraph_lessons: a deep-learning course written the TensorFlow 1 way.

Graphs are drawn with placeholders, ``get_variable`` and ``tf.nn`` ops, and run
in a ``Session``, on a current TensorFlow 2 install through ``tf.compat.v1``.

Layers, in one direction of dependency::

    core -> data -> nets -> lessons (one module per chapter) -> figures, CLI

Importing the package imports no TensorFlow. It sets TensorFlow's environment
defaults (oneDNN on, C++ INFO lines off) and hides TensorFlow's native start-up
lines from whatever imports TensorFlow first, unless ``--verbose`` or
``TFGRAPH_VERBOSE=1`` asks for them (:mod:`tfgraph_lessons.core.startup`).
"""
from tfgraph_lessons.core import startup

__version__ = "0.1.0"

startup.install()  # before anything imports TensorFlow
