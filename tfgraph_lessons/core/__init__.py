"""The slide vocabulary: ``tf1``, graph mode, layer builders, devices and the Session runner."""
from tfgraph_lessons.core.device import (available_gpus, format_placement, placement_report,
                                         resolve_device, session_config)
from tfgraph_lessons.core.errors import (ChecksumError, DataError, OfflineError, TFGraphError,
                                         TrainingError, UsageError)
from tfgraph_lessons.core.graph import graph_mode, new_graph, tf, tf1
from tfgraph_lessons.core.layers import (WEIGHT_DECAY, avg_pool, batch_norm, bias, conv2d,
                                         conv2d_transpose, dropout, flatten, fully_connected,
                                         inputs, is_training_flag, leaky_relu, lrn, max_pool,
                                         weight, weight_decay_loss)
from tfgraph_lessons.core.runner import Trainer, format_entry

__all__ = [
    "tf", "tf1", "graph_mode", "new_graph",
    "inputs", "is_training_flag", "weight", "bias", "weight_decay_loss", "WEIGHT_DECAY",
    "conv2d", "max_pool", "avg_pool", "flatten", "fully_connected", "dropout", "lrn",
    "batch_norm", "conv2d_transpose", "leaky_relu",
    "available_gpus", "resolve_device", "session_config", "placement_report",
    "format_placement",
    "Trainer", "format_entry",
    "TFGraphError", "UsageError", "DataError", "ChecksumError", "OfflineError",
    "TrainingError",
]
