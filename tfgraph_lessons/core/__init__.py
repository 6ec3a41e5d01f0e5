"""The slide vocabulary: ``tf1``, graph mode, layer builders, devices and the Session runner.

Every name below is imported on first use (``from tfgraph_lessons.core import tf1,
Trainer`` works as usual), so that the TensorFlow-free parts (``core.errors``,
``core.cli``, ``core.io``, and the data layer built on them) load without
TensorFlow's five-second import. Using ``tf``, ``tf1`` or any builder imports
:mod:`.graph`, which switches TensorFlow to graph mode.
"""
import importlib

# public name -> the submodule that defines it
_EXPORTS = {
    **dict.fromkeys(("available_gpus", "resolve_device", "session_config", "placement_report",
                     "format_placement"), "device"),
    **dict.fromkeys(("TFGraphError", "UsageError", "DataError", "ChecksumError", "OfflineError",
                     "TrainingError"), "errors"),
    **dict.fromkeys(("tf", "tf1", "graph_mode", "new_graph"), "graph"),
    **dict.fromkeys(("inputs", "is_training_flag", "weight", "bias", "weight_decay_loss",
                     "WEIGHT_DECAY", "conv2d", "max_pool", "avg_pool", "flatten",
                     "fully_connected", "dropout", "lrn", "batch_norm", "conv2d_transpose",
                     "leaky_relu"), "layers"),
    **dict.fromkeys(("Trainer", "format_entry"), "runner"),
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    """Import the submodule that defines ``name`` and keep the name here."""
    module = _EXPORTS.get(name)
    if module is None:  # a submodule (``from tfgraph_lessons.core import cli``) is imported by Python
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
