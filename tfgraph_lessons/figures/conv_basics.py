"""Figures for the CNN chapter's basics: a filter sliding over an image, channels,
padding and stride, ReLU, and the preprocessing slide's min-max normalisation.

Every number on these figures is computed by TensorFlow in graph mode (built in
:func:`~tfgraph_lessons.core.graph.new_graph`, run in a ``tf1.Session``) or, for
min-max normalisation, by :func:`tfgraph_lessons.data.preprocess.min_max`; only
the *inputs* are written down here. The data behind each figure is returned by
a function that notebooks and tests use too:

- :func:`slide_conv_example` -- a 2x2 filter slid over a 3x6 image ("background"),
  stride 1, no padding (VALID); the slide prints the 2x5 output
  ``[[9, 7, 9, 5, 0], [1, 13, 14, 9, 5]]``.
- :func:`three_channel_example` -- a 3-channel image and a 3-channel filter: one
  output value is the sum of the three per-channel sums, 7 + 7 + 8 = 22.
- :func:`padding_stride_example` -- a 3x3 filter on a 7x7 image, VALID/SAME x
  stride 1/2: outputs 5x5, 7x7, 3x3, 4x4, read from the TF tensors.
- :func:`relu_curve` -- ``tf.nn.relu`` over [-5, 5].
- :func:`min_max_example` -- ``x' = (x - min) / (max - min)`` on two features of
  scikit-learn's bundled wine data (alcohol in %, proline in mg/L), whose ranges
  (3.8 and 1,402) differ several hundredfold; the figure computes its labels
  from the data.

About the values of the slide's worked convolution: the slide shows its
output but its input and filter values were not available to us, and a search
of public course material found no copy. :data:`SLIDE_IMAGE` and
:data:`SLIDE_KERNEL` are therefore a *reconstruction*: small integers (0..5,
and a 0..2 filter) found by an exhaustive search over candidate filters and
images, for which ``tf.nn.conv2d`` gives exactly the slide's printed output.
Other inputs give the same output; the slide's own may differ. The 3-channel
example summing to 22 is likewise constructed here, not copied.

Usage::

    from tfgraph_lessons.figures import conv_basics
    ex = conv_basics.slide_conv_example()
    ex["output"]          # array([[ 9,  7,  9,  5,  0], [ 1, 13, 14,  9,  5]])
"""
from tfgraph_lessons.core.graph import new_graph, tf, tf1  # first: sets up TF's logging and graph mode

import numpy as np  # noqa: E402
from matplotlib import pyplot as plt  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from tfgraph_lessons.core.style import CMAPS  # noqa: E402
from tfgraph_lessons.figures import register  # noqa: E402

__all__ = [
    "SLIDE_IMAGE",
    "SLIDE_KERNEL",
    "THREE_CHANNEL_IMAGE",
    "THREE_CHANNEL_KERNEL",
    "PADDING_STRIDE_CASES",
    "slide_conv_example",
    "three_channel_example",
    "padding_stride_example",
    "relu_curve",
    "min_max_example",
]

# Reconstruction (see the module docstring): conv2d(SLIDE_IMAGE, SLIDE_KERNEL, stride 1, VALID)
# reproduces the slide's printed output.
SLIDE_IMAGE = np.array([
    [2, 3, 2, 1, 0, 0],
    [1, 0, 5, 4, 0, 2],
    [0, 3, 1, 5, 1, 0],
], np.int64)  # [3, 6]
SLIDE_KERNEL = np.array([
    [1, 2],
    [1, 0],
], np.int64)  # [2, 2]

# [H, W, C] = [3, 3, 3] channels R, G, B; constructed so that output (0, 0) is 7 + 7 + 8 = 22.
THREE_CHANNEL_IMAGE = np.stack([
    [[1, 2, 0], [0, 1, 3], [2, 1, 0]],   # R
    [[3, 0, 1], [1, 2, 0], [0, 1, 1]],   # G
    [[2, 1, 1], [0, 2, 1], [1, 0, 2]],   # B
], axis=-1).astype(np.int64)
# [kh, kw, C] = [2, 2, 3]: one filter, one 2x2 slice per input channel.
THREE_CHANNEL_KERNEL = np.stack([
    [[2, 1], [0, 3]],                    # R
    [[1, 0], [2, 1]],                    # G
    [[2, 2], [3, 1]],                    # B
], axis=-1).astype(np.int64)
CHANNEL_NAMES = ("R", "G", "B")

# (padding, stride) in the order of the figure's panels (row by row).
PADDING_STRIDE_CASES = (("VALID", 1), ("SAME", 1), ("VALID", 2), ("SAME", 2))


# ----------------------------------------------------------------------------- TF computations

def _conv2d(images, kernel, stride, padding, name):
    """``tf.nn.conv2d`` with a square stride: images ``[N, H, W, C]``, kernel ``[kh, kw, C, K]``."""
    return tf.nn.conv2d(images, kernel, strides=[1, stride, stride, 1], padding=padding, name=name)


def _as_int(x):
    """Float results of integer inputs back to ints (they are exact in float32)."""
    return np.rint(x).astype(np.int64)


def slide_conv_example():
    """The slide's worked example: a 2x2 filter on a 3x6 image, stride 1, VALID.

    Returns:
      dict with ``image`` int ``[3, 6]``, ``kernel`` int ``[2, 2]``, ``output`` int
      ``[2, 5]`` (from ``tf.nn.conv2d``), ``stride`` 1 and ``padding`` ``"VALID"``.
    """
    h, w = SLIDE_IMAGE.shape
    kh, kw = SLIDE_KERNEL.shape
    with new_graph() as g:
        images = tf1.placeholder(tf.float32, [1, h, w, 1], name="images")       # [1, 3, 6, 1]
        kernel = tf.constant(SLIDE_KERNEL.reshape(kh, kw, 1, 1), tf.float32, name="kernel")
        output = _conv2d(images, kernel, 1, "VALID", name="conv")             # [1, 2, 5, 1]
        with tf1.Session(graph=g) as sess:
            out = sess.run(output, {images: SLIDE_IMAGE.reshape(1, h, w, 1)})
    return {
        "image": SLIDE_IMAGE.copy(),
        "kernel": SLIDE_KERNEL.copy(),
        "output": _as_int(out[0, :, :, 0]),
        "stride": 1,
        "padding": "VALID",
    }


def three_channel_example(position=(0, 0)):
    """A 3-channel image convolved with one 3-channel filter, and each channel's share.

    The full convolution and the per-channel convolutions (channel ``c`` of the
    image with slice ``c`` of the filter) both run in one graph; the full output
    equals the sum of the per-channel outputs.

    Args:
      position: (row, col) of the output value to explain.

    Returns:
      dict with ``image`` int ``[3, 3, 3]`` (H, W, C), ``kernel`` int ``[2, 2, 3]``,
      ``output`` int ``[2, 2]`` (tf.nn.conv2d over all channels), ``per_channel`` int
      ``[3, 2, 2]``, ``position``, ``partial_sums`` int ``[3]`` (``per_channel`` at
      ``position``), ``total`` (``output`` at ``position``, 22 at (0, 0)) and
      ``channel_names``.
    """
    h, w, c = THREE_CHANNEL_IMAGE.shape
    kh, kw, _ = THREE_CHANNEL_KERNEL.shape
    with new_graph() as g:
        images = tf1.placeholder(tf.float32, [1, h, w, c], name="images")       # [1, 3, 3, 3]
        kernel = tf.constant(THREE_CHANNEL_KERNEL.reshape(kh, kw, c, 1), tf.float32, name="kernel")
        output = _conv2d(images, kernel, 1, "VALID", name="conv")             # [1, 2, 2, 1]
        per_channel = [
            _conv2d(images[:, :, :, i:i + 1], kernel[:, :, i:i + 1, :], 1, "VALID",
                    name=f"conv_{CHANNEL_NAMES[i]}")                          # [1, 2, 2, 1] each
            for i in range(c)
        ]
        with tf1.Session(graph=g) as sess:
            out, parts = sess.run([output, per_channel], {images: THREE_CHANNEL_IMAGE[None]})
    out = _as_int(out[0, :, :, 0])
    parts = _as_int(np.stack([p[0, :, :, 0] for p in parts]))
    r, col = position
    return {
        "image": THREE_CHANNEL_IMAGE.copy(),
        "kernel": THREE_CHANNEL_KERNEL.copy(),
        "output": out,
        "per_channel": parts,
        "position": (r, col),
        "partial_sums": parts[:, r, col].copy(),
        "total": int(out[r, col]),
        "channel_names": CHANNEL_NAMES,
    }


def _same_padding(size, kernel_size, stride, out_size):
    """TF's SAME padding (before, after) on one axis, from the output size TF produced."""
    total = max((out_size - 1) * stride + kernel_size - size, 0)
    return total // 2, total - total // 2


def padding_stride_example(size=7, kernel_size=3, cases=PADDING_STRIDE_CASES):
    """Output sizes of a ``kernel_size`` filter on a ``size`` x ``size`` image for each (padding, stride).

    Args:
      size: image height and width.
      kernel_size: filter height and width.
      cases: sequence of (padding ``"VALID"``/``"SAME"``, stride).

    Returns:
      list of dicts, one per case: ``padding``, ``stride``, ``static_shape`` (the
      output tensor's static (H, W)), ``output_shape`` (the (H, W) of the array the
      session returned) and ``pad`` (top, bottom, left, right zeros TF added).
    """
    results = []
    with new_graph() as g:
        images = tf1.placeholder(tf.float32, [1, size, size, 1], name="images")
        kernel = tf.ones([kernel_size, kernel_size, 1, 1], tf.float32, name="kernel")
        outputs = [
            _conv2d(images, kernel, stride, padding, name=f"conv_{padding.lower()}_s{stride}")
            for padding, stride in cases
        ]
        with tf1.Session(graph=g) as sess:
            arrays = sess.run(outputs, {images: np.ones([1, size, size, 1], np.float32)})
    for (padding, stride), t, a in zip(cases, outputs, arrays):
        static = tuple(int(d) for d in t.shape[1:3])
        actual = tuple(int(d) for d in a.shape[1:3])
        if padding == "SAME":
            top, bottom = _same_padding(size, kernel_size, stride, actual[0])
            left, right = _same_padding(size, kernel_size, stride, actual[1])
        else:
            top = bottom = left = right = 0
        results.append({
            "padding": padding,
            "stride": stride,
            "static_shape": static,
            "output_shape": actual,
            "pad": (top, bottom, left, right),
        })
    return results


def relu_curve(x=None):
    """``tf.nn.relu`` evaluated in a session.

    Args:
      x: 1-D inputs; default 201 points on [-5, 5].

    Returns:
      (x, y): float32 arrays of the same length, ``y = max(0, x)``.
    """
    x = np.linspace(-5.0, 5.0, 201, dtype=np.float32) if x is None else np.asarray(x, np.float32)
    with new_graph() as g:
        inputs = tf1.placeholder(tf.float32, [None], name="x")
        y = tf.nn.relu(inputs, name="relu")
        with tf1.Session(graph=g) as sess:
            out = sess.run(y, {inputs: x})
    return x, out


def min_max_example():
    """Min-max normalisation of two wine features with very different ranges.

    Uses scikit-learn's bundled wine data (178 wines, no download) and
    :func:`tfgraph_lessons.data.preprocess.min_max` per feature.

    Returns:
      dict with ``features`` float ``[178, 2]`` (alcohol %, proline mg/L),
      ``normalised`` float32 ``[178, 2]`` in [0, 1], ``names`` (2 labels),
      ``labels`` int ``[178]`` (cultivar 0..2), ``lo`` and ``hi`` (per-feature min and max).
    """
    from sklearn.datasets import load_wine

    from tfgraph_lessons.data.preprocess import min_max

    wine = load_wine()
    cols = [wine.feature_names.index("alcohol"), wine.feature_names.index("proline")]
    features = wine.data[:, cols]                                              # [178, 2]
    lo, hi = features.min(axis=0), features.max(axis=0)
    return {
        "features": features,
        "normalised": min_max(features, lo, hi),
        "names": ("alcohol (%)", "proline (mg/L)"),
        "labels": wine.target,
        "lo": lo,
        "hi": hi,
    }


# ----------------------------------------------------------------------------- drawing helpers

def _cell_lines(ax, h, w, **line_kw):
    """Lines between the cells of an ``h`` x ``w`` image drawn by ``imshow``; no ticks."""
    ax.hlines(np.arange(-0.5, h), -0.5, w - 0.5, **line_kw)
    ax.vlines(np.arange(-0.5, w), -0.5, h - 0.5, **line_kw)
    ax.set_xticks([])
    ax.set_yticks([])


def _grid(ax, values, title, cmap=CMAPS["count"], vmin=None, vmax=None, fontsize=16):
    """Draw an integer matrix as a grid of cells with its numbers written in."""
    values = np.asarray(values)
    h, w = values.shape
    vmin = min(values.min(), 0) if vmin is None else vmin
    vmax = max(values.max(), 1) if vmax is None else vmax
    # keep the colours light so the numbers stay readable
    ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmin + (vmax - vmin) * 1.6)
    for (i, j), v in np.ndenumerate(values):
        ax.text(j, i, str(v), ha="center", va="center", fontsize=fontsize, color="black")
    _cell_lines(ax, h, w, color="0.3", linewidth=1)
    for spine in ax.spines.values():
        spine.set_visible(True)
    ax.set_title(title)


def _box(ax, row, col, height, width, color="red", style="-", lw=3.5):
    """Outline cells ``[row:row+height, col:col+width]`` of a :func:`_grid`."""
    ax.add_patch(Rectangle((col - 0.5, row - 0.5), width, height, fill=False,
                           edgecolor=color, linestyle=style, linewidth=lw, zorder=3))


def _sig(x, digits=4):
    """``x`` to ``digits`` significant figures with thousands separators: 3.8, 1,402, 370."""
    return f"{float(f'{x:.{digits}g}'):,.15g}"   # round first, then print without an exponent


def _sum_of_products(window, kernel):
    """``"a·b + c·d + ..."`` for a window and a kernel of the same shape."""
    return " + ".join(f"{a}\u00b7{b}" for a, b in zip(np.ravel(window), np.ravel(kernel)))


# ----------------------------------------------------------------------------- figures

@register("conv_slide_example",
          "2x2 filter slid over a 3x6 image, stride 1, VALID -> 2x5 output (tf.nn.conv2d)",
          figsize=(11.0, 3.8))
def slide_conv_figure(highlight=(1, 2)):
    """The slide's worked convolution: input, filter, output, one window traced.

    Args:
      highlight: (row, col) of the output value whose window is outlined and spelt out.

    Returns:
      the Figure.
    """
    ex = slide_conv_example()
    image, kernel, out = ex["image"], ex["kernel"], ex["output"]
    kh, kw = kernel.shape
    r, c = highlight
    fig, axes = plt.subplots(1, 3, gridspec_kw={"width_ratios": [image.shape[1], kw, out.shape[1]]})
    _grid(axes[0], image, f"input image {image.shape[0]}x{image.shape[1]}", cmap="Greys")
    _box(axes[0], r, c, kh, kw)
    _grid(axes[1], kernel, f"filter {kh}x{kw}", cmap="Oranges")
    _box(axes[1], 0, 0, kh, kw)
    _grid(axes[2], out, f"output {out.shape[0]}x{out.shape[1]} (stride {ex['stride']}, {ex['padding']})",
          cmap=CMAPS["count"])
    _box(axes[2], r, c, 1, 1)
    window = image[r:r + kh, c:c + kw]
    axes[0].set_xlabel(f"output[{r}, {c}] = {_sum_of_products(window, kernel)} = {out[r, c]}",
                       fontsize=13, color="darkred")
    fig.suptitle("Convolution: slide the filter, multiply element-wise, sum")
    return fig


@register("conv_three_channels",
          "3-channel image * 3-channel filter: per-channel sums 7 + 7 + 8 = 22 at one position",
          figsize=(11.0, 7.5))
def three_channel_figure():
    """Each channel convolved with its filter slice; the output adds the channels up.

    Returns:
      the Figure.
    """
    ex = three_channel_example()
    image, kernel, parts, out = ex["image"], ex["kernel"], ex["per_channel"], ex["output"]
    kh, kw, c = kernel.shape
    r, col = ex["position"]
    cmaps = ("Reds", "Greens", "Blues")
    fig = plt.figure()
    gs = fig.add_gridspec(c, 4, width_ratios=[3, 2, 2, 3])
    for i, name in enumerate(ex["channel_names"]):
        ax_in, ax_k, ax_p = (fig.add_subplot(gs[i, j]) for j in range(3))
        _grid(ax_in, image[:, :, i], f"input, channel {name}", cmap=cmaps[i], fontsize=14)
        _box(ax_in, r, col, kh, kw)
        _grid(ax_k, kernel[:, :, i], f"filter, channel {name}", cmap=cmaps[i], fontsize=14)
        _grid(ax_p, parts[i], f"channel {name} alone", cmap=cmaps[i], fontsize=14)
        _box(ax_p, r, col, 1, 1)
        window = image[r:r + kh, col:col + kw, i]
        ax_in.set_xlabel(f"{_sum_of_products(window, kernel[:, :, i])} = {parts[i, r, col]}", fontsize=11)
    ax_sum = fig.add_subplot(gs[:, 3])
    _grid(ax_sum, out, "output = sum of channels", cmap="Purples", fontsize=18)
    _box(ax_sum, r, col, 1, 1)
    terms = " + ".join(str(v) for v in ex["partial_sums"])
    ax_sum.set_xlabel(f"output[{r}, {col}] = {terms} = {ex['total']}", fontsize=12, color="darkred")
    fig.suptitle(f"A {c}-channel filter on a {c}-channel image gives one number per position")
    return fig


@register("padding_stride",
          "3x3 filter on a 7x7 image: VALID/SAME x stride 1/2 -> 5x5, 7x7, 3x3, 4x4",
          figsize=(9.0, 9.0))
def padding_stride_figure(size=7, kernel_size=3):
    """Padding and stride: where the filter's centre lands, and the output size TF reports.

    Args:
      size: image height and width.
      kernel_size: filter height and width.

    Returns:
      the Figure.
    """
    cases = padding_stride_example(size, kernel_size)
    max_pad = max(max(case["pad"]) for case in cases)
    fig, axes = plt.subplots(2, 2)
    pad_cmap = ListedColormap(["white", "0.85"])
    for ax, case in zip(axes.flat, cases):
        top, bottom, left, right = case["pad"]
        s = case["stride"]
        h, w = size + top + bottom, size + left + right
        padded = np.ones([h, w])
        padded[top:top + size, left:left + size] = 0                       # 0 = image, 1 = zero padding
        ax.imshow(padded, cmap=pad_cmap, vmin=0, vmax=1)
        for (i, j), v in np.ndenumerate(padded):
            if v:
                ax.text(j, i, "0", ha="center", va="center", fontsize=9, color="0.45")
        _cell_lines(ax, h, w, color="0.6", linewidth=0.8)
        _box(ax, top, left, size, size, color="black", lw=2.5)             # the image itself
        out_h, out_w = case["output_shape"]
        centres = [(i * s + kernel_size // 2, j * s + kernel_size // 2)
                   for i in range(out_h) for j in range(out_w)]          # in padded coordinates
        ax.scatter([x for _, x in centres], [y for y, _ in centres], s=28, color="tab:blue", zorder=4)
        _box(ax, 0, 0, kernel_size, kernel_size, color="red")             # first window
        if out_w > 1:
            _box(ax, 0, s, kernel_size, kernel_size, color="tab:orange", style="--", lw=2.5)  # next one
        # same axis limits in every panel so the grids line up
        ax.set_xlim(-0.5 - (max_pad - left), w - 0.5 + (max_pad - right))
        ax.set_ylim(h - 0.5 + (max_pad - bottom), -0.5 - (max_pad - top))
        for spine in ax.spines.values():
            spine.set_visible(False)
        pad_text = (f"zero padding top/bottom/left/right {top}/{bottom}/{left}/{right}"
                    if any(case["pad"]) else "no padding")
        ax.set_title(f"{case['padding']}, stride {s}: {size}x{size} \u2192 {out_h}x{out_w}",
                     fontsize=14)
        ax.set_xlabel(f"{pad_text}\n{out_h * out_w} dots = {out_h * out_w} filter centres = "
                      f"{out_h}x{out_w} outputs", fontsize=10)
    fig.suptitle(f"{kernel_size}x{kernel_size} filter: red = first window, "
                 f"dashed = next window one stride on")
    return fig


@register("relu", "ReLU f(x) = max(0, x) on [-5, 5], computed by tf.nn.relu in a session",
          figsize=(6.4, 4.2))
def relu_figure():
    """ReLU over [-5, 5].

    Returns:
      the Figure.
    """
    x, y = relu_curve()
    fig, ax = plt.subplots()
    ax.axhline(0, color="0.6", linewidth=0.8)
    ax.axvline(0, color="0.6", linewidth=0.8)
    ax.plot(x, y, color="tab:red", linewidth=2.5, label="tf.nn.relu(x)")
    ax.set_xlabel("x")
    ax.set_ylabel("f(x)")
    ax.set_xlim(float(x.min()), float(x.max()))
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left")
    ax.set_title("ReLU: f(x) = max(0, x)")
    return fig


@register("min_max_normalisation",
          "x' = (x - min)/(max - min) on wine alcohol % and proline mg/L (scikit-learn's wine data)",
          figsize=(10.0, 4.5))
def min_max_figure():
    """Two features before and after min-max normalisation.

    Returns:
      the Figure.
    """
    ex = min_max_example()
    feats, norm, names, labels = ex["features"], ex["normalised"], ex["names"], ex["labels"]
    fig, (ax0, ax1) = plt.subplots(1, 2)
    colours = ("tab:blue", "tab:orange", "tab:green")
    for k in range(3):
        m = labels == k
        ax0.scatter(feats[m, 0], feats[m, 1], s=14, color=colours[k], label=f"cultivar {k}")
        ax1.scatter(norm[m, 0], norm[m, 1], s=14, color=colours[k])
    ax0.set_xlabel(f"{names[0]}: {ex['lo'][0]:.2f} .. {ex['hi'][0]:.2f}")
    ax0.set_ylabel(f"{names[1]}: {ex['lo'][1]:.0f} .. {ex['hi'][1]:.0f}")
    ranges = ex["hi"] - ex["lo"]
    ratio = ranges.max() / ranges.min()
    ax0.set_title(f"before: ranges {_sig(ranges[0])} and {_sig(ranges[1])} differ ~{_sig(ratio, 2)}x")
    ax0.legend(loc="upper left", fontsize=9)
    ax1.set_xlabel(f"{names[0]}, normalised")
    ax1.set_ylabel(f"{names[1]}, normalised")
    ax1.set_xlim(-0.05, 1.05)
    ax1.set_ylim(-0.05, 1.05)
    ax1.set_aspect("equal")
    ax1.set_title(f"after: both in [{_sig(norm.min())}, {_sig(norm.max())}]")
    fig.suptitle(r"Min-max normalisation  $x' = \dfrac{x - \min(x)}{\max(x) - \min(x)}$")
    return fig
