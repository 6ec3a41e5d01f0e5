"""The side-by-side benchmark's parts (``python benchmarks/run.py`` drives them).

One measurement is one fresh process, :mod:`sidebyside.child`, given a spec: a
framework (:mod:`.ours`, :mod:`.keras_arm`, :mod:`.torch_arm`), a network, the
batch size, the threads, the steps to time, and the data as ``.npy`` files the
driver wrote once, so every arm trains on the same arrays. :mod:`.flops` counts
the work of a step; :mod:`.report` turns the measurements into the table, the
JSON, the chart and the Markdown of ``benchmarks/RESULTS.md``.

The Keras and PyTorch arms never import ``tfgraph_lessons``: importing it
switches TensorFlow to graph mode for the whole process, and Keras 3 needs eager.
"""
FRAMEWORKS = ("ours", "keras", "torch")
