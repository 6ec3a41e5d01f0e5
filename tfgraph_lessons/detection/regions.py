"""Region features: from one shared feature map to a fixed-size vector per box.

R-CNN (Girshick et al. 2014) warped every proposal to 227 x 227 pixels and
ran the whole CNN on each, about 2000 times per image. SPPNet (He et al.
2014) and Fast R-CNN (Girshick 2015) run the convolutions once and cut each
region out of the *feature map* instead:

- :func:`spatial_pyramid_pool` (SPPNet): max-pool a feature map of any size
  into 1x1, 2x2, 4x4, ... bins and concatenate, so inputs of any size give a
  vector of one fixed length for the fully connected layers.
- :func:`roi_pool` (Fast R-CNN's RoI pooling, a one-level pyramid per
  region): project the region onto the feature grid (multiply by
  ``spatial_scale`` = 1 / stride, round), split it into ``ph x pw`` bins
  whose edges are ``floor(p * h / ph)`` and ``ceil((p + 1) * h / ph)``, and
  take the max of each bin.
- :func:`crop_and_resize`: the bilinear alternative (as in the TF Object
  Detection API's Faster R-CNN, and close to Mask R-CNN's RoIAlign): each
  output cell is the feature map sampled at the centre of its bin, with no
  rounding of the region.

Boxes are corners in image pixels (see :mod:`.boxes`), ``box_indices`` says
which image of the batch each region comes from.

Taught in ``notebooks/05_detection.ipynb`` ("region features").
"""
import numbers

import numpy as np
import tensorflow as tf

from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.detection.boxes import _is_tensor, as_boxes_tensor, check_boxes

# --------------------------------------------------------------------------- checks


def _check_features(features):
    f = tf.convert_to_tensor(features, tf.float32)
    if f.shape.rank is not None and f.shape.rank != 4:
        raise UsageError(f"features: shape {f.shape}, expected [batch, height, width, channels]")
    return f


def _check_size(size, name):
    try:
        h, w = size
    except (TypeError, ValueError):
        raise UsageError(f"{name}: {size!r}, expected (height, width)") from None
    for v in (h, w):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
            raise UsageError(f"{name}: {size!r}, expected two integers >= 1")
    return int(h), int(w)


def _check_scale(spatial_scale):
    if isinstance(spatial_scale, bool) or not isinstance(spatial_scale, numbers.Real) \
            or not spatial_scale > 0:
        raise UsageError(f"spatial_scale: {spatial_scale!r}, expected a number > 0 (1 / stride)")
    return float(spatial_scale)


def _regions(features, rois, box_indices):
    """Validated (features [B,H,W,C], rois [R,4], box_indices int32 [R])."""
    f = _check_features(features)
    r = as_boxes_tensor(rois, "rois")
    if not _is_tensor(rois) and not _is_tensor(box_indices):
        n_rois, n_idx = check_boxes(rois, "rois").shape[0], int(np.size(box_indices))
        if n_rois != n_idx:
            raise UsageError(f"box_indices: {n_idx} indices for {n_rois} rois; "
                             "give one image index per roi")
    b = tf.cast(box_indices, tf.int32)
    checks = [
        tf.debugging.Assert(tf.equal(tf.size(b), tf.shape(r)[0]),
                            ["box_indices: give one image index per roi; got", tf.size(b),
                             "for rois:", tf.shape(r)[0]]),
        tf.debugging.Assert(tf.reduce_all((b >= 0) & (b < tf.shape(f)[0])),
                            ["box_indices: every index must be in [0, batch size)", b]),
    ]
    with tf.control_dependencies(checks):
        return f, r, tf.reshape(tf.identity(b), [-1])


# --------------------------------------------------------------------------- max pooling in bins


def _bin_edges(start, length, bins, size):
    """Integer bin edges [R, bins] of regions starting at ``start`` with ``length`` cells.

    floor(p * length / bins) and ceil((p + 1) * length / bins) in exact
    integer arithmetic, shifted by ``start`` and clipped to [0, size].
    """
    p = tf.range(bins)[None, :]
    lo = start[:, None] + (p * length[:, None]) // bins
    hi = start[:, None] - ((-(p + 1) * length[:, None]) // bins)
    return tf.clip_by_value(lo, 0, size), tf.clip_by_value(hi, 0, size)


def _masked_max(maps, rows, cols):
    """Max of each bin, separably: over the rows of a bin, then its columns.

    Args:
      maps: [R, H, W, C] one feature map per region.
      rows: (lo, hi) int32 [R, ph] row edges; cols: (lo, hi) int32 [R, pw].
    Returns:
      [R, ph, pw, C]; an empty bin gives 0.
    """
    height, width = tf.shape(maps)[1], tf.shape(maps)[2]
    neg_inf = tf.constant(-float("inf"))
    h = tf.range(height)[None, None, :]
    in_row = (h >= rows[0][:, :, None]) & (h < rows[1][:, :, None])             # [R, ph, H]
    by_row = tf.reduce_max(tf.where(in_row[:, :, :, None, None], maps[:, None], neg_inf),
                           axis=2)                                              # [R, ph, W, C]
    w = tf.range(width)[None, None, :]
    in_col = (w >= cols[0][:, :, None]) & (w < cols[1][:, :, None])             # [R, pw, W]
    pooled = tf.reduce_max(tf.where(in_col[:, None, :, :, None], by_row[:, :, None], neg_inf),
                           axis=3)                                              # [R, ph, pw, C]
    empty = (rows[1] <= rows[0])[:, :, None] | (cols[1] <= cols[0])[:, None, :]  # [R, ph, pw]
    return tf.where(empty[..., None], tf.zeros_like(pooled), pooled)


def roi_pool(features, rois, box_indices, output_size=(7, 7), spatial_scale=1.0 / 16,
             name="roi_pool"):
    """Fast R-CNN's RoI max pooling, from graph ops.

    The region is rounded to the feature grid: ``round(x1 * spatial_scale)``
    to ``round(x2 * spatial_scale)`` (x2 is exclusive: our corners are
    continuous, so Caffe's "+1" for inclusive pixel ends is not needed), at
    least one cell wide; then split into ``ph x pw`` bins (:func:`_bin_edges`)
    and max-pooled. Bins outside the map are empty and give 0.

    Args:
      features: [B, H, W, C] feature maps.
      rois: [R, 4] corners in image pixels.
      box_indices: [R] int, the image of each roi.
      output_size: (ph, pw).
      spatial_scale: feature cells per image pixel (1/16 for VGG-16 conv5).
      name: name scope.
    Returns:
      float32 tensor [R, ph, pw, C]. Memory grows as R * ph * H * W * C.
    """
    ph, pw = _check_size(output_size, "output_size")
    scale = _check_scale(spatial_scale)
    with tf.name_scope(name):
        f, r, b = _regions(features, rois, box_indices)
        # floor(v + 0.5): round half up, as C's round() on the non-negative coords
        # Caffe sees (tf.round would round half to even).
        grid = tf.cast(tf.floor(r * scale + 0.5), tf.int32)                       # [R, 4]
        x1, y1, x2, y2 = tf.unstack(grid, axis=1)
        rows = _bin_edges(y1, tf.maximum(y2 - y1, 1), ph, tf.shape(f)[1])
        cols = _bin_edges(x1, tf.maximum(x2 - x1, 1), pw, tf.shape(f)[2])
        return _masked_max(tf.gather(f, b), rows, cols)


# --------------------------------------------------------------------------- bilinear crops


def _normalised(lo, hi, cells, size):
    """Pixel-centre sample positions for tf.image.crop_and_resize, per axis.

    crop_and_resize samples ``n`` points from ``lo * (size - 1)`` to
    ``hi * (size - 1)`` in *cell-index* units, where index k is the centre of
    cell k, i.e. the continuous coordinate k + 0.5. We want the centres of
    ``n`` equal bins of [lo, hi) in continuous feature coordinates, so the
    first and last sample are ``lo + bin/2`` and ``hi - bin/2``, shifted by
    -0.5 into index units and divided by size - 1.
    """
    half_bin = (hi - lo) / (2.0 * cells)
    denom = tf.maximum(tf.cast(size, tf.float32) - 1.0, 1.0)   # a 1-cell map: any value maps to 0
    return (lo + half_bin - 0.5) / denom, (hi - half_bin - 0.5) / denom


def crop_and_resize(features, rois, box_indices, crop_size=(7, 7), spatial_scale=1.0 / 16,
                    name="crop_and_resize"):
    """Bilinear region features through ``tf.image.crop_and_resize``.

    Output cell (p, q) is the feature map, bilinearly interpolated, at the
    centre of bin (p, q) of the region: one sample per bin, like RoIAlign.
    A feature cell k is taken to sit at continuous coordinate k + 0.5 (its
    centre; cell k covers image pixels [k * stride, (k + 1) * stride)), and
    the corners are converted to the op's normalised ``[y1, x1, y2, x2]``
    accordingly (:func:`_normalised`). Samples outside the map give 0.

    Args:
      features: [B, H, W, C] feature maps.
      rois: [R, 4] corners in image pixels.
      box_indices: [R] int, the image of each roi.
      crop_size: (ch, cw).
      spatial_scale: feature cells per image pixel.
      name: name scope.
    Returns:
      float32 tensor [R, ch, cw, C].
    """
    ch, cw = _check_size(crop_size, "crop_size")
    scale = _check_scale(spatial_scale)
    with tf.name_scope(name):
        f, r, b = _regions(features, rois, box_indices)
        x1, y1, x2, y2 = tf.unstack(r * scale, axis=1)
        ny1, ny2 = _normalised(y1, y2, ch, tf.shape(f)[1])
        nx1, nx2 = _normalised(x1, x2, cw, tf.shape(f)[2])
        boxes = tf.stack([ny1, nx1, ny2, nx2], axis=1)
        return tf.image.crop_and_resize(f, boxes, b, [ch, cw], method="bilinear",
                                        extrapolation_value=0.0)


# --------------------------------------------------------------------------- SPP


def spatial_pyramid_pool(features, levels=(1, 2, 4), name="spatial_pyramid_pool"):
    """SPPNet's spatial pyramid pooling (He et al. 2014): any H x W -> one length.

    Level l max-pools the whole map into l x l bins with the floor/ceil edges
    of :func:`roi_pool`. SPPNet's own window ceil(H/l) with stride floor(H/l)
    can give fewer than l bins on small maps; these edges always give l
    non-empty bins (neighbours share a cell when l does not divide H).

    Args:
      features: [B, H, W, C], H and W may be unknown when the graph is built.
      levels: pyramid levels (ints >= 1); (1, 2, 4) gives 21 bins.
      name: name scope.
    Returns:
      float32 tensor [B, C * sum(l * l)]: for each level in order, its l x l
      bins in row-major order, each C values.
    """
    for level in levels:
        if isinstance(level, bool) or not isinstance(level, numbers.Integral) or level < 1:
            raise UsageError(f"levels: {levels!r}, expected integers >= 1")
    if not levels:
        raise UsageError("levels: empty, give at least one pyramid level such as (1, 2, 4)")
    with tf.name_scope(name):
        f = _check_features(features)
        batch, height, width = tf.shape(f)[0], tf.shape(f)[1], tf.shape(f)[2]
        zeros = tf.zeros([batch], tf.int32)
        parts = []
        for level in levels:
            rows = _bin_edges(zeros, tf.fill([batch], height), level, height)
            cols = _bin_edges(zeros, tf.fill([batch], width), level, width)
            parts.append(tf.reshape(_masked_max(f, rows, cols), [batch, -1]))
        out = tf.concat(parts, axis=1)
        channels = f.shape[-1]
        if channels is not None:
            out.set_shape([None, channels * sum(level * level for level in levels)])
        return out
