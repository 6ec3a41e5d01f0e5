"""Architectures as pure graph functions, slim style, and one registry of them.

Every builder has the signature::

    net(images, num_classes, is_training, keep_prob=..., wd=..., scope=...) -> (logits, end_points)

``images`` is a float tensor ``[batch, height, width, channels]``; ``is_training``
a Python bool or a boolean scalar tensor (dropout and batch norm follow it);
``keep_prob`` and ``wd`` (dropout keep probability, weight decay) are accepted by
every builder, even one that has no dropout. ``end_points`` maps each layer's
name to its output, in the order of the forward pass, so a notebook can look
inside any layer; a layer's key is its variable scope below the network's
(``'conv1'``, ``'mixed_3b'``, ``'stage2/block1'``), which is how
:mod:`tfgraph_lessons.nets.summary` gives each row of a layer table its
parameters and multiply-adds. No Session, placeholder or flag lives in a builder.

Each registered network carries a :class:`NetInfo`: the input size of its
paper, and the paper's parameter count and multiply-adds with where they are
printed, for ``python -m tfgraph_lessons.architectures --compare``.
"""
import dataclasses

from tfgraph_lessons.core.errors import UsageError

NETS = {}
INFO = {}


@dataclasses.dataclass(frozen=True)
class NetInfo:
    """What the registry knows about a network besides its builder.

    Attributes:
      name: the registry name (``'vgg16'``).
      family: ``'vgg'``, ``'resnet'``, ``'inception'``... (groups the compare table).
      input_shape: ``(height, width, channels)`` the paper feeds it.
      num_classes: the paper's number of classes (1000 for ImageNet, 10 for CIFAR-10).
      paper_params: the parameter count the paper (or its reference
        implementation) gives, as a number (``138_357_544``; ``0.27e6``), or None.
      paper_madds: the multiply-adds of one forward pass the paper gives, or None.
      paper_source: where those numbers are printed (``'arXiv:1409.1556 Table 2'``).
      cifar: True when it takes 32x32 images (selectable in ``cnn_cifar --model``).
    """
    name: str
    family: str = "other"
    input_shape: tuple = (32, 32, 3)
    num_classes: int = 10
    paper_params: float = None
    paper_madds: float = None
    paper_source: str = ""
    cifar: bool = True


def check_images(images, scope, min_size, accepted=None, known_size=True):
    """The input check every builder starts with: ``images`` must be
    ``[batch, height, width, channels]`` with known channels and a height and width of
    at least ``min_size`` (known, unless ``known_size=False``).

    Raises:
      ValueError: ``"[scope] needs <accepted>, got shape ..."``; ``accepted`` says what
        the network takes (default ``"images of at least NxN: height and width >= N"``).
    """
    shape = images.shape
    if shape.rank != 4 or shape[-1] is None:
        raise ValueError(f"[{scope}] needs images [batch, height, width, channels] with known "
                         f"channels, got shape {shape}")
    accepted = accepted or (f"images of at least {min_size}x{min_size}: height and width "
                            f">= {min_size}")
    for d in (shape[1], shape[2]):
        if (d is None and known_size) or (d is not None and d < min_size):
            raise ValueError(f"[{scope}] needs {accepted}, got shape {shape}")


def register(name, **info):
    """Decorator: ``@register('vgg16', family='vgg', input_shape=(224, 224, 3), ...)``
    adds a builder to :data:`NETS` and its :class:`NetInfo` to :data:`INFO`."""
    entry = NetInfo(name=name, **info)

    def deco(fn):
        if name in NETS and NETS[name] is not fn:
            raise ValueError(f"two networks registered as {name!r}")
        NETS[name] = fn
        INFO[name] = entry
        return fn
    return deco


def get(name):
    """The builder registered as ``name``; UsageError listing the known names otherwise."""
    _load()
    try:
        return NETS[name]
    except KeyError:
        raise UsageError(f"unknown --model {name!r}; known: {', '.join(sorted(NETS))}") from None


def info(name):
    """The :class:`NetInfo` of ``name`` (UsageError for an unknown name)."""
    get(name)
    return INFO[name]


def names(cifar=None):
    """Every registered name, sorted; ``cifar=True`` only those that take 32x32 images."""
    _load()
    return sorted(n for n in NETS if cifar is None or INFO[n].cifar == cifar)


MODULES = ("slide_cnn", "resnet", "lenet", "alexnet", "vgg", "nin", "resnet_imagenet",
           "googlenet", "inception_v3", "inception_v4", "xception", "enet", "fractalnet",
           "fast_cifar")


def _load():
    # importing the modules runs their @register decorators
    import importlib
    for module in MODULES:
        importlib.import_module(f"tfgraph_lessons.nets.{module}")
