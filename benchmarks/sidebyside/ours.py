"""Our arm: the lesson's own graph, trained by the library's ``Trainer`` as the lesson runs it.

The CNNs are :func:`tfgraph_lessons.cnn_cifar.build_graph` (``--model slide_cnn`` or
``resnet20``) with the lesson's defaults: uint8 batches fed through the ``x_``
placeholder and standardised inside the graph, the lesson's augmentation
(:func:`~tfgraph_lessons.cnn_cifar.augmenter`: random crop after zero padding,
flips on CIFAR) as the ``Trainer``'s ``batch_fn``, SGD with momentum and weight
decay, the summaries every 50 steps. The LSTM is
:func:`tfgraph_lessons.rnn_mnist.build_graph` with its distortions
(:func:`~tfgraph_lessons.rnn_mnist.distorter`), Adam and gradient clipping.

What is timed is :meth:`Trainer.fit` itself, from the end of the warm-up steps to
the last step, through its ``on_step`` hook: batching, augmentation, the feed,
``Session.run`` and the summaries the Trainer writes every 50 steps. The
once-an-epoch checkpoint and evaluation record are moved after the last step
(neither Keras's nor PyTorch's loop has them). ``session_images_per_second`` is
the Trainer's own figure (the time inside ``Session.run`` only), to show what
the Python side costs.
Evaluation is :meth:`Trainer.evaluate` (loss and accuracy in inference mode).
"""
import dataclasses
import tempfile

import numpy as np

from sidebyside.child import StepClock, timed


def _graph(spec, total_steps):
    """``(model dict, batch_fn)`` of the lesson, built in the current graph."""
    net, batch = spec["network"], spec["batch_size"]
    if net["kind"] == "rnn":
        from tfgraph_lessons import rnn_mnist
        config = rnn_mnist.RNNMnistConfig(dataset=net["dataset"], batch_size=batch,
                                          steps=total_steps, seed=spec["seed"])
        model = rnn_mnist.build_graph(config, tuple(net["input_shape"]), net["num_classes"],
                                      total_steps)
        return model, rnn_mnist.distorter(config, net["input_shape"][1])
    from tfgraph_lessons import cnn_cifar
    config = cnn_cifar.CNNConfig(dataset=net["dataset"], model=net["name"], batch_size=batch,
                                 steps=total_steps, seed=spec["seed"])
    shape = tuple(net["input_shape"])
    model = cnn_cifar.build_graph(config, shape, net["num_classes"], np.array(net["mean"]),
                                  np.array(net["std"]), total_steps)
    return model, (cnn_cifar.augmenter(config.dataset, shape, config.crop_padding)
                   if config.augment else None)


def lesson_settings(network):
    """The lesson's hyperparameters for ``network`` (its config defaults), which the Keras
    and PyTorch arms copy: ``{'lr', 'momentum', 'weight_decay', ...}``."""
    if network == "lstm":
        from tfgraph_lessons.rnn_mnist import RNNMnistConfig as Config
        keys = ("units", "lr", "lr_floor", "clip_norm", "rotation", "scale", "shift")
    else:
        from tfgraph_lessons.cnn_cifar import CNNConfig as Config
        keys = ("optimizer", "lr", "momentum", "lr_drops", "weight_decay", "dropout",
                "keep_prob", "augment")
    defaults = dataclasses.asdict(Config())
    return {k: defaults[k] for k in keys}


def measure(spec, data):
    from tfgraph_lessons.core.device import session_config
    from tfgraph_lessons.core.graph import new_graph, tf1
    from tfgraph_lessons.core.runner import Trainer

    threads, batch = spec["threads"], spec["batch_size"]
    warmup, steps = spec["warmup_steps"], spec["steps"]
    clock = StepClock(warmup, steps)
    with new_graph(seed=spec["seed"]) as graph, tempfile.TemporaryDirectory() as out:
        model, batch_fn = _graph(spec, warmup + steps)
        params = sum(int(np.prod(v.shape)) for v in tf1.trainable_variables())
        config = session_config(intra_threads=threads, inter_threads=threads)
        with Trainer(graph, model, out, seed=spec["seed"], config=config) as trainer:
            # evaluation records and checkpoints only after the last step: the lesson
            # makes them once an epoch, and a timed window can cross an epoch's end
            trainer.fit((data["train_images"], data["train_labels"]), steps=warmup + steps,
                        batch_size=batch, batch_fn=batch_fn, warmup_steps=warmup,
                        eval_steps=warmup + steps, checkpoint_steps=warmup + steps,
                        on_step=lambda _, step: clock.step_done(step))
            test = data["test_images"], data["test_labels"]
            n = spec["eval_batches"] * batch
            trainer.evaluate(test[0][:batch], test[1][:batch], batch_size=batch)  # warm-up
            seconds, _ = timed(lambda: trainer.evaluate(test[0][:n], test[1][:n],
                                                        batch_size=batch))
            session_ips = trainer.images_per_second
    return {"train_images_per_second": clock.images_per_second(batch),
            "session_images_per_second": session_ips,
            "eval_images_per_second": n / seconds, "params": params}
