"""Architectures as pure graph functions, slim style, and one registry of them.

Every builder has the signature::

    net(images, num_classes, is_training, scope=...) -> (logits, end_points)

``images`` is a float tensor ``[batch, height, width, channels]``; ``is_training``
a Python bool or a boolean scalar tensor (dropout and batch norm follow it);
``end_points`` maps each layer's name to its output so a notebook can look
inside any layer. No Session, placeholder or flag lives in a builder.
"""
from tfgraph_lessons.core.errors import UsageError

NETS = {}


def register(name):
    """Decorator: ``@register('slide_cnn')`` adds a builder to :data:`NETS`."""
    def deco(fn):
        NETS[name] = fn
        return fn
    return deco


def get(name):
    """The builder registered as ``name``; UsageError listing the known names otherwise."""
    _load()
    try:
        return NETS[name]
    except KeyError:
        raise UsageError(f"unknown --model {name!r}; known: {', '.join(sorted(NETS))}") from None


def names():
    _load()
    return sorted(NETS)


def _load():
    # importing the modules runs their @register decorators
    from tfgraph_lessons.nets import resnet, slide_cnn  # noqa: F401
