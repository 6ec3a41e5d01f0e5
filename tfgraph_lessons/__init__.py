"""tfgraph_lessons: a deep-learning course written the TensorFlow 1 way.

Graphs are drawn with placeholders, ``get_variable`` and ``tf.nn`` ops, and run
in a ``Session``, on a current TensorFlow 2 install through ``tf.compat.v1``.

Layers, in one direction of dependency::

    core -> data -> nets -> lessons (one module per chapter) -> figures, CLI
"""

__version__ = "0.1.0"
