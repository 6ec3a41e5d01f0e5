"""Network in Network's figures (chapter 06), computed by the library's graphs.

* ``nin_1x1_gap``: Network in Network (Lin et al. 2014, arXiv:1312.4400): a 1x1
  convolution computed by ``tf.nn.conv2d`` is a matrix product per pixel
  (:func:`one_by_one_example`); global average pooling is each map's mean
  (:func:`gap_example`) and costs no parameters where a fully connected head on the same
  class maps costs many (:func:`nin_heads`).
* ``nin_cam``: class activation maps (Zhou et al. 2016, arXiv:1512.04150) of a small NIN
  trained for a few seconds on synthetic images whose one shape sits at a known place, so
  the map can be checked to peak on it (:func:`cam_example`).

Sessions run single-threaded with fixed seeds, so every PNG is the same bytes on a rerun.
"""
import functools

import numpy as np

from tfgraph_lessons.core.style import CMAPS
from tfgraph_lessons.figures import one_thread_session, register
from tfgraph_lessons.figures.architecture_blocks import shape_text, size_of


# a 3x3 image with 3 channels (one plane per channel) and a 1x1 kernel from 3 to 2 channels
ONE_BY_ONE_X = (((1, 0, 2), (0, 1, 1), (2, 1, 0)),
                ((0, 1, 1), (1, 2, 0), (0, 0, 1)),
                ((1, 1, 0), (0, 0, 2), (1, 0, 1)))
ONE_BY_ONE_W = ((1, 0), (2, -1), (0, 1))            # [in channels, out channels]
# three 4x4 feature maps for global average pooling
GAP_MAPS = (((0, 1, 0, 0), (1, 4, 1, 0), (0, 1, 0, 0), (0, 0, 0, 0)),
            ((2, 2, 1, 1), (2, 3, 2, 1), (1, 2, 2, 1), (1, 1, 1, 1)),
            ((0, 0, 0, 0), (0, 0, 0, 0), (0, 0, 2, 6), (0, 0, 6, 2)))


def one_by_one_example():
    """``tf.nn.conv2d`` with a ``[1, 1, 3, 2]`` kernel on :data:`ONE_BY_ONE_X`, in a Session.

    Returns:
      dict with ``x`` ``[3, 3, 3]`` (height, width, channels), ``w`` ``[3, 2]`` and ``y``
      ``[3, 3, 2]``, integers.
    """
    from tfgraph_lessons.core.graph import new_graph, tf, tf1

    x = np.transpose(np.array(ONE_BY_ONE_X, np.float32), (1, 2, 0))          # [h, w, c]
    w = np.array(ONE_BY_ONE_W, np.float32)
    with new_graph() as g:
        images = tf1.placeholder(tf.float32, [1, *x.shape])
        y = tf.nn.conv2d(images, w[None, None], [1, 1, 1, 1], "SAME")       # kernel [1, 1, 3, 2]
        with one_thread_session(g) as sess:
            out = sess.run(y, {images: x[None]})
    return {"x": x.astype(np.int64), "w": w.astype(np.int64),
            "y": np.rint(out[0]).astype(np.int64)}


def gap_example():
    """The library's ``global_avg_pool`` on :data:`GAP_MAPS`: ``([3, 4, 4] maps, [3] means)``."""
    from tfgraph_lessons.core.graph import new_graph, tf, tf1
    from tfgraph_lessons.core.layers import global_avg_pool

    maps = np.array(GAP_MAPS, np.float32)
    with new_graph() as g:
        x = tf1.placeholder(tf.float32, [1, 4, 4, 3])
        pooled = global_avg_pool(x)                                           # [1, 3]
        with one_thread_session(g) as sess:
            out = sess.run(pooled, {x: np.transpose(maps, (1, 2, 0))[None]})
    return maps, out[0]


def nin_heads():
    """NIN's head (global average pooling of the class maps) against a fully connected
    layer on the same maps (section 4.6 of arXiv:1312.4400 compares the two), for
    ``nin_cifar`` and ``nin``: the class maps' shape read from the graph, a
    ``fully_connected`` layer built on them and its variables counted.

    Returns:
      list of dicts ``{name, classes, maps, gap_params, fc_params, net_params}``.
    """
    from tfgraph_lessons import nets
    from tfgraph_lessons.core.graph import new_graph, tf, tf1
    from tfgraph_lessons.core.layers import flatten, fully_connected

    out = []
    for name in ("nin_cifar", "nin"):
        info = nets.info(name)
        with new_graph():
            images = tf1.placeholder(tf.float32, [1, *info.input_shape])
            _, end_points = nets.get(name)(images, info.num_classes, False)
            keys = list(end_points)
            maps = end_points[keys[keys.index("global_pool") - 1]]            # [1, h, w, classes]
            net_params = sum(size_of(v.shape) for v in tf1.trainable_variables())
            before = set(tf1.trainable_variables())
            fully_connected(flatten(maps), info.num_classes, activation=None, scope="fc_head")
            fc = sum(size_of(v.shape) for v in tf1.trainable_variables() if v not in before)
        out.append({"name": name, "classes": info.num_classes,
                    "maps": tuple(maps.shape.as_list()[1:]), "gap_params": 0, "fc_params": fc,
                    "net_params": net_params})
    return out


def _numbers(ax, m, title, cmap, vmin, vmax, mark=None):
    """A small integer matrix as coloured cells with its numbers written in (light colour
    maps only, so black text stays readable)."""
    import matplotlib.pyplot as plt

    ax.imshow(m, cmap=cmap, vmin=vmin, vmax=vmax)
    for (i, j), v in np.ndenumerate(m):
        ax.text(j, i, f"{v:g}", ha="center", va="center", fontsize=11)
    if mark is not None:
        ax.add_patch(plt.Rectangle((mark[1] - 0.5, mark[0] - 0.5), 1, 1, fill=False,
                                   edgecolor="tab:red", lw=2.5))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=11)


@register("nin_1x1_gap", "Network in Network: a 1x1 convolution (tf.nn.conv2d) is a matrix "
          "product at every pixel; global average pooling is each map's mean and has no "
          "parameters, vs a fully connected head on the same class maps", figsize=(15.0, 7.5))
def nin_1x1_gap_figure():
    import matplotlib.pyplot as plt

    ex = one_by_one_example()
    maps, means = gap_example()
    heads = nin_heads()
    x, w, y = ex["x"], ex["w"], ex["y"]
    fig = plt.figure()
    top, bottom = fig.subfigures(2, 1, height_ratios=[1, 0.95])
    axes = top.subplots(1, 7, width_ratios=[1, 1, 1, 0.8, 1, 1, 1.5])
    p = (1, 1)                                                # the pixel worked out on the right
    for c in range(3):
        _numbers(axes[c], x[:, :, c], f"input channel {c + 1}", "Blues", -1, 5, mark=p)
    _numbers(axes[3], w, "1x1 kernel [1, 1, 3, 2]\nas a 3x2 matrix W", "RdBu_r", -4, 4)
    axes[3].set_yticks(range(3), [f"in {c + 1}" for c in range(3)], fontsize=9)
    axes[3].set_xticks(range(2), ["out 1", "out 2"], fontsize=9)
    for c in range(2):
        _numbers(axes[4 + c], y[:, :, c], f"output channel {c + 1}", "RdBu_r", -10, 10, mark=p)
    axes[6].axis("off")
    axes[6].text(0, 0.5, f"the red pixel:\n{x[p].tolist()} x W = {(x[p] @ w).tolist()}\n"
                 f"tf.nn.conv2d gave {y[p].tolist()}\n\nat every pixel\ny[i, j] = x[i, j] W:\n"
                 "a fully connected layer\nacross the channels,\nshared by all pixels",
                 fontsize=11, va="center")
    top.suptitle("(a) a 1x1 convolution, computed by tf.nn.conv2d in a Session", fontsize=12,
                 weight="bold", x=0.01, ha="left")
    axes = bottom.subplots(1, 4, width_ratios=[1, 1, 1, 4.2])
    for c in range(3):
        _numbers(axes[c], maps[c], f"map {c + 1}: mean {means[c]:g}", "Greens", -1, 10)
    axes[3].axis("off")
    lines = [f"global_avg_pool(4x4x3 maps) = [{', '.join(f'{m:g}' for m in means)}]:",
             "one number per map, 0 parameters", "",
             "NIN's head vs a fully connected head on the same class maps:"]
    for h in heads:
        lines.append(f"  {h['name']:9s} {shape_text(h['maps']):>9s} -> {h['classes']:4d} logits:  "
                     f"GAP {h['gap_params']}, FC {h['fc_params']:>10,}")
        lines.append(f"  {'':9s} (the whole network: {h['net_params']:,} parameters)")
    lines += ["", "nothing to overfit, any input size, and each class map",
              "still shows where its class's evidence is (nin_cam)"]
    axes[3].text(0.02, 0.5, "\n".join(lines), fontsize=11, va="center", family="monospace")
    bottom.suptitle("(b) global average pooling instead of fully connected layers "
                    "(layers.global_avg_pool)", fontsize=12, weight="bold", x=0.01, ha="left")
    fig.suptitle("Network in Network (Lin et al. 2014): 1x1 convolutions and global average "
                 "pooling")
    return fig


# ----------------------------------------------------------------- class activation maps

CAM_SHAPES = ("plus", "x", "square", "nothing")   # the classes; "nothing": noise only
CAM_SIZE, CAM_OBJECT, CAM_NOISE = 24, 7, 0.2      # image side, shape side, noise stddev


def _shape_stamps():
    """The 7x7 stamps of the shape classes: [3, 7, 7] of 0/1."""
    k, c = np.zeros((3, CAM_OBJECT, CAM_OBJECT), np.float32), CAM_OBJECT // 2
    k[0, c, :] = k[0, :, c] = 1                                            # plus
    k[1, np.arange(CAM_OBJECT), np.arange(CAM_OBJECT)] = 1                 # x
    k[1, np.arange(CAM_OBJECT), CAM_OBJECT - 1 - np.arange(CAM_OBJECT)] = 1
    k[2, [0, -1], :] = k[2, :, [0, -1]] = 1                                # square outline
    return k


def shapes_data(n, rng):
    """``n`` synthetic images: Gaussian noise with one shape drawn at a random place, or none.

    Returns:
      ``(images [n, 24, 24, 1] float32, labels [n] int32, corners [n, 2])``: the class
      (an index of :data:`CAM_SHAPES`) and the (row, column) of the shape's 7x7 box's
      top-left pixel (-1, -1 for "nothing").
    """
    stamps = _shape_stamps()
    images = rng.normal(0.0, CAM_NOISE, (n, CAM_SIZE, CAM_SIZE, 1)).astype(np.float32)
    labels = rng.integers(0, len(CAM_SHAPES), n).astype(np.int32)
    corners = rng.integers(0, CAM_SIZE - CAM_OBJECT + 1, (n, 2))
    for i in range(n):
        if labels[i] < len(stamps):
            r, c = corners[i]
            images[i, r:r + CAM_OBJECT, c:c + CAM_OBJECT, 0] += stamps[labels[i]]
        else:
            corners[i] = -1
    return images, labels, corners


def _cam_table():
    """A small NIN for 24x24 images: two mlpconv layers, the second ending in a map per class."""
    from tfgraph_lessons.nets.nin import Mlpconv

    return (Mlpconv("mlpconv1", (("conv1", 16, 5, 1, "SAME"), ("cccp1", 16, 1, 1, "SAME")),
                    pool=("pool1", "max", 3, 2, "SAME")),                  # [b, 12, 12, 16]
            Mlpconv("mlpconv2", (("conv2", 24, 3, 1, "SAME"),
                                 ("cccp2", None, 1, 1, "SAME"))))          # [b, 12, 12, 4]


@functools.lru_cache(maxsize=2)
def cam_example(seed=0, steps=300, batch_size=32, learning_rate=0.03, train_size=2000,
                test_size=300, class_map_bias=1.0):
    """Train a small NIN on :func:`shapes_data` for a few seconds, then take the class
    activation map (``nets.nin.nin_cam``) of the predicted class of every test image.

    The network is :func:`~tfgraph_lessons.nets.nin.network_in_network` with
    :func:`_cam_table` (its class maps pass a ReLU before the average, as in NIN), trained
    with SGD + momentum 0.9 on the softmax cross-entropy. Two choices make the maps
    trustworthy in 300 steps. The "nothing" class: without it the network may call a
    plus "neither an x nor a square" (evidence against the other classes, spread over
    the background), and the plus's map need not light up on the plus. The class maps'
    biases start at ``class_map_bias`` (1) instead of the builder's 0: a class map that
    starts negative everywhere stays 0 under the ReLU and its class is never learned (at 0,
    four of seeds 0-5 leave a class unlearned). Seeded and single-threaded, so the numbers
    repeat; cached, so a test and the figure train once. Seeds 0-5 with the defaults:
    89-99% held-out accuracy, and every held-out shape's CAM peak on the shape.

    Returns:
      dict with the test split's ``images`` ``[n, 24, 24]``, ``labels``, ``corners``,
      ``predictions``, ``cams`` ``[n, 24, 24]`` in [0, 1], ``class_maps``
      ``[n, 12, 12, classes]`` and ``logits`` (their global averages); ``accuracy``,
      ``params``, ``steps``, ``batch_size``, ``learning_rate``, ``train_size``.
      Treat the arrays as read-only (the dict is cached).
    """
    from tfgraph_lessons.core.graph import new_graph, tf, tf1
    from tfgraph_lessons.core.layers import softmax_cross_entropy
    from tfgraph_lessons.nets.nin import network_in_network, nin_cam

    rng = np.random.default_rng(seed)
    train_x, train_y, _ = shapes_data(train_size, rng)
    test_x, test_y, corners = shapes_data(test_size, rng)
    with new_graph(seed=seed) as g:
        images = tf1.placeholder(tf.float32, [None, CAM_SIZE, CAM_SIZE, 1], name="images")
        labels = tf1.placeholder(tf.int32, [None], name="labels")
        logits, end_points = network_in_network(images, len(CAM_SHAPES), True, _cam_table(),
                                                keep_prob=1.0, scope="nin_shapes")
        loss = softmax_cross_entropy(labels, logits)
        train_op = tf1.train.MomentumOptimizer(learning_rate, 0.9).minimize(loss)
        predictions = tf.argmax(logits, 1, output_type=tf.int32)
        cams = nin_cam(end_points, predictions, (CAM_SIZE, CAM_SIZE))       # [b, 24, 24]
        (biases,) = [v for v in tf1.trainable_variables("nin_shapes/mlpconv2/cccp2/")
                     if v.op.name.endswith("biases")]
        start_alive = biases.assign(tf.fill(biases.shape, float(class_map_bias)))
        params = sum(size_of(v.shape) for v in tf1.trainable_variables())
        with one_thread_session(g) as sess:
            sess.run(tf1.global_variables_initializer())
            sess.run(start_alive)
            for _ in range(steps):
                batch = rng.integers(0, train_size, batch_size)
                sess.run(train_op, {images: train_x[batch], labels: train_y[batch]})
            pred, heat, maps, logit = sess.run(
                [predictions, cams, end_points["mlpconv2/cccp2"], logits], {images: test_x})
    return {"images": test_x[..., 0], "labels": test_y, "corners": corners, "predictions": pred,
            "cams": heat, "class_maps": maps, "logits": logit,
            "accuracy": float(np.mean(pred == test_y)), "params": params, "steps": steps,
            "batch_size": batch_size, "learning_rate": learning_rate, "train_size": train_size}


def cam_peaks(cams):
    """``[n, h, w]`` -> ``[n, 2]``: (row, column) of each map's maximum."""
    flat = np.asarray(cams).reshape(len(cams), -1).argmax(axis=1)
    return np.stack(np.unravel_index(flat, np.shape(cams)[1:]), axis=1)


def on_the_shape(peaks, corners, margin=1):
    """Whether each peak lies in its shape's 7x7 box grown by ``margin`` pixels."""
    lo, hi = corners - margin, corners + CAM_OBJECT - 1 + margin
    return np.all((peaks >= lo) & (peaks <= hi), axis=1)


@register("nin_cam", "class activation maps (nets.nin.nin_cam) of a small NIN trained 300 steps "
          "on synthetic images with one shape at a known place: the map peaks on the shape",
          figsize=(14.5, 6.5))
def nin_cam_figure():
    import matplotlib.pyplot as plt

    ex = cam_example()
    shapes = ex["labels"] < 3
    right = on_the_shape(cam_peaks(ex["cams"][shapes]), ex["corners"][shapes])
    # two test images of each shape class, in order: the first ones of the split
    shown = [i for k in range(3) for i in np.flatnonzero(ex["labels"] == k)[:2]]
    fig = plt.figure()
    grid = fig.add_gridspec(2, 9, width_ratios=[1] * 6 + [0.15, 1, 1])
    for col, i in enumerate(shown):
        r, c = ex["corners"][i]
        for row in range(2):
            ax = fig.add_subplot(grid[row, col])
            ax.imshow(ex["images"][i], cmap=CMAPS["image"])
            if row:
                ax.imshow(ex["cams"][i], cmap=CMAPS["heat"], alpha=0.6, vmin=0, vmax=1)
                pr, pc = cam_peaks(ex["cams"][i:i + 1])[0]
                ax.plot(pc, pr, "c+", ms=14, mew=2.5)
            ax.add_patch(plt.Rectangle((c - 0.5, r - 0.5), CAM_OBJECT, CAM_OBJECT, fill=False,
                                       edgecolor="lime", lw=1.5, ls="--"))
            ax.set_xticks([])
            ax.set_yticks([])
            wrong = ex["predictions"][i] != ex["labels"][i]
            cam_of = f"CAM of '{CAM_SHAPES[ex['predictions'][i]]}'{' (wrong)' if wrong else ''}"
            ax.set_title(cam_of if row else f"a {CAM_SHAPES[ex['labels'][i]]}", fontsize=11,
                         color="tab:red" if row and wrong else "black")
    i = shown[0]
    vmax = float(ex["class_maps"][i].max())
    for k, name in enumerate(CAM_SHAPES):
        ax = fig.add_subplot(grid[k // 2, 7 + k % 2])
        ax.imshow(ex["class_maps"][i, :, :, k], cmap=CMAPS["activation"], vmin=0, vmax=vmax)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"image 1: '{name}' map\nmean = logit {ex['logits'][i, k]:.2f}",
                     fontsize=10)
    fig.suptitle(
        f"Class activation maps (nets.nin.nin_cam) of a {ex['params']:,}-parameter NIN trained "
        f"{ex['steps']} steps (batch {ex['batch_size']}) on {ex['train_size']:,} synthetic 24x24 "
        "images:\nnoise with a plus, an x, a square or nothing. Held-out accuracy "
        f"{100 * ex['accuracy']:.0f}%; the CAM's peak (+) lies on the shape's box (dashed) for "
        f"{right.sum()} of {len(right)} held-out shapes", fontsize=13)
    return fig
