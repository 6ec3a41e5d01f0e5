"""Inception-v4, Inception-ResNet-v1 and Inception-ResNet-v2: one paper, one table, one builder.

[1] Christian Szegedy, Sergey Ioffe, Vincent Vanhoucke, Alex Alemi.
    Inception-v4, Inception-ResNet and the Impact of Residual Connections on
    Learning. AAAI 2017, arXiv:1602.07261.

The three networks share a plan (Figures 9 and 15 of [1]): a stem down to a
35x35 grid, Inception blocks A (35x35), Reduction-A to 17x17, blocks B,
Reduction-B to 8x8, blocks C, average pooling, dropout (keep 0.8), softmax.
They differ in their rows of :data:`VARIANTS`:

* ``inception_v4``: the stem of Figure 3, 4 x Inception-A (Figure 4),
  Reduction-A (Figure 7), 7 x Inception-B (Figure 5), Reduction-B (Figure 8),
  3 x Inception-C (Figure 6). Plain concatenating modules.
* ``inception_resnet_v1``: the stem of Figure 14, 5 x Inception-ResNet-A
  (Figure 10), Reduction-A, 10 x Inception-ResNet-B (Figure 11), Reduction-B
  (Figure 12), 5 x Inception-ResNet-C (Figure 13). Each block adds its branches,
  widened back by a linear 1x1 convolution and scaled, to its input
  (:class:`Residual`); the scales are the released model's 0.17 / 0.10 / 0.20,
  inside the 0.1-0.3 that section 3.3 of [1] recommends.
* ``inception_resnet_v2``: the released model (TF-slim's
  ``inception_resnet_v2.py``, Keras's ``InceptionResNetV2``). Its blocks are
  those of Figures 16, 17 and 19 and Reduction-A/B of Figures 7 and 18, but
  its stem is Inception v3's followed by a 320-channel module (``mixed_5b``),
  it repeats the blocks 10 / 20 / 10 times instead of Figure 15's 5 / 10 / 5,
  its last block has no ReLU, and a 1x1 convolution to 1536 channels precedes
  the pooling. [1]'s own widths for it do not add up (Figure 17 widens to
  1154 channels after a 1152-channel Reduction-A; Figure 19 to 2048 after a
  2144-channel Reduction-B), so the released model is the one to count:
  Keras's 55,873,736 parameters.

Reduction-A takes the four filter counts of Table 1 of [1] (:data:`REDUCTION_A`).

Usage::

    logits, end_points = inception_v4(images, 1000, is_training)   # images [b, 299, 299, 3]
    logits, end_points = inception_resnet_v2(images, 1000, is_training)
"""
from tfgraph_lessons.core.graph import tf1
from tfgraph_lessons.nets import check_images, inception_v3, register
from tfgraph_lessons.nets.inception import (Conv, Module, Pool, Residual, Split, apply_layer,
                                            classifier_head)

MIN_SIZE = 75   # the smallest input every VALID layer of the three stems and reductions fits

# Table 1 of [1]: the filters k, l, m, n of Reduction-A (Figure 7).
REDUCTION_A = {
    "inception_v4": (192, 224, 256, 384),
    "inception_resnet_v1": (192, 192, 256, 384),
    "inception_resnet_v2": (256, 256, 384, 384),
}


def reduction_a(k, l, m, n):
    """Figure 7 of [1]: 35x35xC -> 17x17x(C + n + m)."""
    return Module((
        (Conv(n, 3, 2, "VALID"),),
        (Conv(k, 1), Conv(l, 3), Conv(m, 3, 2, "VALID")),
        (Pool("max", 3, 2, "VALID"),),
    ))


def _split_1x3_3x1(width):
    return Split(((Conv(width, (1, 3)),), (Conv(width, (3, 1)),)))


# --- Inception-v4 (Figures 3-9) ---------------------------------------------------------
V4_STEM = (
    ("conv2d_1a_3x3", Conv(32, 3, 2, "VALID")),                       # [b, 149, 149, 32]
    ("conv2d_2a_3x3", Conv(32, 3, 1, "VALID")),                       # [b, 147, 147, 32]
    ("conv2d_2b_3x3", Conv(64, 3)),                                   # [b, 147, 147, 64]
    ("mixed_3a", Module(((Pool("max", 3, 2, "VALID"),),
                         (Conv(96, 3, 2, "VALID"),)))),               # [b, 73, 73, 160]
    ("mixed_4a", Module(((Conv(64, 1), Conv(96, 3, 1, "VALID")),
                         (Conv(64, 1), Conv(64, (7, 1)), Conv(64, (1, 7)),
                          Conv(96, 3, 1, "VALID"))))),                # [b, 71, 71, 192]
    ("mixed_5a", Module(((Conv(192, 3, 2, "VALID"),),
                         (Pool("max", 3, 2, "VALID"),)))),            # [b, 35, 35, 384]
)
INCEPTION_A = Module((                                                # Figure 4: 96 x 4
    (Conv(96, 1),),
    (Conv(64, 1), Conv(96, 3)),
    (Conv(64, 1), Conv(96, 3), Conv(96, 3)),
    (Pool("avg", 3), Conv(96, 1)),
))
INCEPTION_B = Module((                                                # Figure 5: 384+256+256+128
    (Conv(384, 1),),
    (Conv(192, 1), Conv(224, (1, 7)), Conv(256, (7, 1))),
    (Conv(192, 1), Conv(192, (1, 7)), Conv(224, (7, 1)), Conv(224, (1, 7)), Conv(256, (7, 1))),
    (Pool("avg", 3), Conv(128, 1)),
))
INCEPTION_C = Module((                                                # Figure 6: 256+512+512+256
    (Conv(256, 1),),
    (Conv(384, 1), _split_1x3_3x1(256)),
    (Conv(384, 1), Conv(448, (1, 3)), Conv(512, (3, 1)), _split_1x3_3x1(256)),
    (Pool("avg", 3), Conv(256, 1)),
))
V4_REDUCTION_B = Module((                                             # Figure 8: 192+320+C
    (Conv(192, 1), Conv(192, 3, 2, "VALID")),
    (Conv(256, 1), Conv(256, (1, 7)), Conv(320, (7, 1)), Conv(320, 3, 2, "VALID")),
    (Pool("max", 3, 2, "VALID"),),
))
INCEPTION_V4 = (
    *V4_STEM,
    *[(f"mixed_5{c}", INCEPTION_A) for c in "bcde"],                  # [b, 35, 35, 384]
    ("mixed_6a", reduction_a(*REDUCTION_A["inception_v4"])),         # [b, 17, 17, 1024]
    *[(f"mixed_6{c}", INCEPTION_B) for c in "bcdefgh"],               # [b, 17, 17, 1024]
    ("mixed_7a", V4_REDUCTION_B),                                     # [b, 8, 8, 1536]
    *[(f"mixed_7{c}", INCEPTION_C) for c in "bcd"],                   # [b, 8, 8, 1536]
)

# --- Inception-ResNet-v1 (Figures 10-15) ------------------------------------------------
SCALES = (0.17, 0.10, 0.20)   # residual scaling of the A, B, C blocks (the released v2's)

RES_V1_A = ((Conv(32, 1),), (Conv(32, 1), Conv(32, 3)),
            (Conv(32, 1), Conv(32, 3), Conv(32, 3)))                   # Figure 10, + 1x1 256
RES_V1_B = ((Conv(128, 1),), (Conv(128, 1), Conv(128, (1, 7)), Conv(128, (7, 1))))  # Fig. 11
RES_V1_C = ((Conv(192, 1),), (Conv(192, 1), Conv(192, (1, 3)), Conv(192, (3, 1))))  # Fig. 13
RES_V1_REDUCTION_B = Module((                                         # Figure 12: 384+256+256+C
    (Conv(256, 1), Conv(384, 3, 2, "VALID")),
    (Conv(256, 1), Conv(256, 3, 2, "VALID")),
    (Conv(256, 1), Conv(256, 3), Conv(256, 3, 2, "VALID")),
    (Pool("max", 3, 2, "VALID"),),
))
INCEPTION_RESNET_V1 = (
    ("conv2d_1a_3x3", Conv(32, 3, 2, "VALID")),                       # [b, 149, 149, 32]
    ("conv2d_2a_3x3", Conv(32, 3, 1, "VALID")),                       # [b, 147, 147, 32]
    ("conv2d_2b_3x3", Conv(64, 3)),                                   # [b, 147, 147, 64]
    ("maxpool_3a_3x3", Pool("max", 3, 2, "VALID")),                   # [b, 73, 73, 64]
    ("conv2d_3b_1x1", Conv(80, 1)),                                   # [b, 73, 73, 80]
    ("conv2d_4a_3x3", Conv(192, 3, 1, "VALID")),                      # [b, 71, 71, 192]
    ("conv2d_4b_3x3", Conv(256, 3, 2, "VALID")),                      # [b, 35, 35, 256]
    *[(f"block35_{i}", Residual(RES_V1_A, SCALES[0])) for i in range(1, 6)],    # [b, 35, 35, 256]
    ("mixed_6a", reduction_a(*REDUCTION_A["inception_resnet_v1"])),  # [b, 17, 17, 896]
    *[(f"block17_{i}", Residual(RES_V1_B, SCALES[1])) for i in range(1, 11)],   # [b, 17, 17, 896]
    ("mixed_7a", RES_V1_REDUCTION_B),                                 # [b, 8, 8, 1792]
    *[(f"block8_{i}", Residual(RES_V1_C, SCALES[2])) for i in range(1, 6)],     # [b, 8, 8, 1792]
)

# --- Inception-ResNet-v2 (Figures 16-19; the released model's stem and repeats) ----------
RES_V2_A = ((Conv(32, 1),), (Conv(32, 1), Conv(32, 3)),
            (Conv(32, 1), Conv(48, 3), Conv(64, 3)))                   # Figure 16
RES_V2_B = ((Conv(192, 1),), (Conv(128, 1), Conv(160, (1, 7)), Conv(192, (7, 1))))  # Fig. 17
RES_V2_C = ((Conv(192, 1),), (Conv(192, 1), Conv(224, (1, 3)), Conv(256, (3, 1))))  # Fig. 19
RES_V2_REDUCTION_B = Module((                                         # Figure 18: 384+288+320+C
    (Conv(256, 1), Conv(384, 3, 2, "VALID")),
    (Conv(256, 1), Conv(288, 3, 2, "VALID")),
    (Conv(256, 1), Conv(288, 3), Conv(320, 3, 2, "VALID")),
    (Pool("max", 3, 2, "VALID"),),
))
INCEPTION_RESNET_V2 = (
    *inception_v3.STEM,                                               # [b, 35, 35, 192]
    ("mixed_5b", Module(((Conv(96, 1),), (Conv(48, 1), Conv(64, 5)),
                         (Conv(64, 1), Conv(96, 3), Conv(96, 3)),
                         (Pool("avg", 3), Conv(64, 1))))),            # [b, 35, 35, 320]
    *[(f"block35_{i}", Residual(RES_V2_A, SCALES[0])) for i in range(1, 11)],   # [b, 35, 35, 320]
    ("mixed_6a", reduction_a(*REDUCTION_A["inception_resnet_v2"])),  # [b, 17, 17, 1088]
    *[(f"block17_{i}", Residual(RES_V2_B, SCALES[1])) for i in range(1, 21)],   # [b, 17, 17, 1088]
    ("mixed_7a", RES_V2_REDUCTION_B),                                 # [b, 8, 8, 2080]
    *[(f"block8_{i}", Residual(RES_V2_C, SCALES[2])) for i in range(1, 10)],    # [b, 8, 8, 2080]
    ("block8_10", Residual(RES_V2_C, 1.0, activation=False)),        # [b, 8, 8, 2080]
    ("conv2d_7b_1x1", Conv(1536, 1)),                                 # [b, 8, 8, 1536]
)

VARIANTS = {
    "inception_v4": INCEPTION_V4,
    "inception_resnet_v1": INCEPTION_RESNET_V1,
    "inception_resnet_v2": INCEPTION_RESNET_V2,
}


def inception_v4_family(images, num_classes, is_training, variant, keep_prob=0.8, wd=None,
                        scope=None):
    """Inception-v4 or Inception-ResNet-v1/v2 of [1]: ``VARIANTS[variant]``, then
    average pooling, dropout and the logits (Figures 9 and 15).

    Args:
      images: ``[batch, 299, 299, 3]`` (any known size >= 75).
      num_classes: width of the logits.
      is_training: Python bool or boolean scalar tensor (batch norm, dropout).
      variant: ``'inception_v4'``, ``'inception_resnet_v1'`` or ``'inception_resnet_v2'``.
      keep_prob: dropout keep probability before the logits ([1]: 0.8).
      wd: weight decay on every kernel, or None.
      scope: the variable scope; the variant's name when None.
    Returns:
      ``(logits [batch, num_classes], end_points)``; no auxiliary head ([1] draws none).
    """
    if variant not in VARIANTS:
        raise ValueError(f"[inception_v4_family] unknown variant {variant!r}; "
                         f"accepted: {', '.join(VARIANTS)}")
    scope = scope or variant
    end_points = {}
    with tf1.variable_scope(scope):
        check_images(images, scope, MIN_SIZE)
        net = images
        for name, spec in VARIANTS[variant]:
            net = apply_layer(net, spec, is_training, name, wd=wd)
            end_points[name] = net
        # [b, 1536 | 1792] (8x8 average pool), dropout, logits
        return classifier_head(net, num_classes, is_training, keep_prob, wd, end_points,
                               "avgpool_8x8")


# Reference counts, in the convention of our trainable parameters (batch norm's beta
# and gamma, no moving statistics): the PyTorch ports of the TF-slim models
# (Cadene's pretrained-models, as counted in osmr's imgclsmob table) with 1000 classes.
# Keras's InceptionResNetV2 (no gamma, moving statistics counted) says 55,873,736;
# the tests check both. timm's model cards list 12.3 and 13.2 GMACs.
_INFO = {
    "inception_v4": dict(paper_params=42_679_816, paper_madds=12.3e9,
                         paper_source="arXiv:1602.07261 Figs 3-9; TF-slim model's Cadene "
                                      "port: 42,679,816 (imgclsmob), 12.3 GMACs (timm)"),
    "inception_resnet_v1": dict(paper_source="arXiv:1602.07261 Figs 10-15 (no count printed)"),
    "inception_resnet_v2": dict(paper_params=55_843_464, paper_madds=13.2e9,
                                paper_source="arXiv:1602.07261 Figs 16-19; Keras "
                                             "InceptionResNetV2 55,873,736 with BN moving "
                                             "stats; Cadene port 55,843,464 (imgclsmob), "
                                             "13.2 GMACs (timm)"),
}


def _variant(name):
    def builder(images, num_classes, is_training, keep_prob=0.8, wd=None, scope=name):
        return inception_v4_family(images, num_classes, is_training, name, keep_prob=keep_prob,
                                   wd=wd, scope=scope)
    builder.__name__ = name
    builder.__doc__ = (f"{name} of [1] (rows ``VARIANTS[{name!r}]``). "
                       "See inception_v4_family() for the arguments.")
    return register(name, family="inception", input_shape=(299, 299, 3), num_classes=1000,
                    cifar=False, **_INFO[name])(builder)


inception_v4 = _variant("inception_v4")
inception_resnet_v1 = _variant("inception_resnet_v1")
inception_resnet_v2 = _variant("inception_resnet_v2")
