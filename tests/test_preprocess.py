"""Preprocessing against direct NumPy computations (and, for augmentation, per-image references)."""
import numpy as np
import pytest

from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.data import preprocess as pp


def images_nhwc(n=16, h=9, w=7, c=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, c), dtype=np.uint8)


# ----------------------------------------------------------------------------- min_max

def test_min_max_matches_slide_formula():
    x = np.random.default_rng(1).normal(5.0, 3.0, (4, 6, 6, 3))
    out = pp.min_max(x)
    assert out.dtype == np.float32 and out.shape == x.shape
    np.testing.assert_allclose(out, (x - x.min()) / (x.max() - x.min()), rtol=1e-6, atol=1e-6)
    assert out.min() == 0.0 and out.max() == pytest.approx(1.0)


def test_min_max_uses_training_statistics():
    train = np.array([0, 50, 200], np.uint8)
    test = np.array([100, 250], np.uint8)
    out = pp.min_max(test, lo=train.min(), hi=train.max())
    np.testing.assert_allclose(out, [0.5, 1.25])          # not clipped: outside the training range


def test_min_max_constant_and_per_feature():
    np.testing.assert_array_equal(pp.min_max(np.full((3, 2), 7.0)), np.zeros((3, 2), np.float32))
    x = np.array([[0.0, 5.0], [10.0, 5.0]])
    out = pp.min_max(x, lo=x.min(axis=0), hi=x.max(axis=0))
    np.testing.assert_array_equal(out, [[0, 0], [1, 0]])


# ----------------------------------------------------------------------------- statistics

def test_channel_stats_matches_numpy_and_chunking():
    x = images_nhwc(n=37)
    mean, std = pp.channel_stats(x, chunk_size=5)          # 8 chunks, the last one partial
    np.testing.assert_allclose(mean, x.mean(axis=(0, 1, 2), dtype=np.float64), rtol=1e-12)
    np.testing.assert_allclose(std, x.astype(np.float64).std(axis=(0, 1, 2)), rtol=1e-10)
    assert mean.shape == std.shape == (3,) and mean.dtype == np.float64


def test_channel_stats_no_cancellation():
    x = 1e8 + np.random.default_rng(2).normal(0, 1, (100, 4, 4, 2))
    _, std = pp.channel_stats(x, chunk_size=7)
    np.testing.assert_allclose(std, x.std(axis=(0, 1, 2)), rtol=1e-6)


def test_standardize_zero_mean_unit_std():
    x = images_nhwc(n=50)
    mean, std = pp.channel_stats(x)
    out = pp.standardize(x, mean, std)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.mean(axis=(0, 1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(0, 1, 2)), 1, atol=1e-5)
    np.testing.assert_allclose(out, (x - mean) / std, rtol=1e-5, atol=1e-5)


def test_standardize_zero_std_only_centres():
    x = np.full((2, 2, 2, 1), 3, np.uint8)
    np.testing.assert_array_equal(pp.standardize(x, [3.0], [0.0]), np.zeros_like(x, np.float32))


# ----------------------------------------------------------------------------- augmentation

def test_random_crop_padding_zero_is_identity():
    x = images_nhwc()
    out = pp.random_crop(x, 0, np.random.default_rng(0))
    np.testing.assert_array_equal(out, x)
    assert out is not x


@pytest.mark.parametrize("shape", [(40, 9, 7, 3), (40, 6, 6)])
def test_random_crop_is_a_window_of_the_padded_image(shape):
    x = np.random.default_rng(3).integers(1, 256, shape, dtype=np.uint8)    # no zeros in the image
    p = 3
    out = pp.random_crop(x, p, np.random.default_rng(4))
    assert out.shape == x.shape and out.dtype == x.dtype
    pad = ((0, 0), (p, p), (p, p)) + ((0, 0),) * (x.ndim - 3)
    padded = np.pad(x, pad)
    h, w = x.shape[1:3]
    offsets = set()
    for i in range(len(x)):                                # reference: search every window
        hits = [(dy, dx) for dy in range(2 * p + 1) for dx in range(2 * p + 1)
                if np.array_equal(out[i], padded[i, dy:dy + h, dx:dx + w])]
        assert hits, f"image {i} is not a window of its padded image"
        offsets.add(hits[0])
    assert len(offsets) > 10                               # offsets vary per image


def test_random_crop_deterministic_per_seed_and_bad_padding():
    x = images_nhwc()
    np.testing.assert_array_equal(pp.random_crop(x, 2, 7), pp.random_crop(x, 2, 7))
    for bad in (-1, 1.5):
        with pytest.raises(UsageError, match="padding"):
            pp.random_crop(x, bad, 0)


def test_random_flip_lr():
    x = images_nhwc(n=200)
    out = pp.random_flip_lr(x, np.random.default_rng(5))
    flipped = np.array([np.array_equal(o, i[:, ::-1]) for o, i in zip(out, x)])
    kept = np.array([np.array_equal(o, i) for o, i in zip(out, x)])
    assert np.all(flipped ^ kept)                          # each image exactly one of the two
    assert 60 < flipped.sum() < 140
    np.testing.assert_array_equal(pp.random_flip_lr(x, 0, prob=1.0), x[:, :, ::-1])
    np.testing.assert_array_equal(pp.random_flip_lr(x, 0, prob=0.0), x)
    # flipping twice with the same draws is the identity
    np.testing.assert_array_equal(pp.random_flip_lr(pp.random_flip_lr(x, 9), 9), x)


def test_augment_shape_and_content():
    x = images_nhwc(n=8, h=32, w=32)
    out = pp.augment(x, np.random.default_rng(0))
    assert out.shape == x.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(pp.augment(x, 1, crop_padding=0, flip=False), x)


# ----------------------------------------------------------------------------- distort

class Scripted(np.random.Generator):
    """A Generator whose ``uniform`` returns the given values in turn (checked against its range)."""

    def __init__(self, *values):
        super().__init__(np.random.PCG64(0))
        self.values = list(values)

    def uniform(self, low=0.0, high=1.0, size=None):
        value = np.asarray(self.values.pop(0), float)
        assert np.all((low <= value) & (value <= high)), (low, value, high)
        return np.broadcast_to(value, size).copy()


def lit(shape, y, x, value=200, dtype=np.uint8):
    image = np.zeros(shape, dtype)
    image[0, y, x] = value
    return image


@pytest.mark.parametrize("shape, dtype", [((5, 28, 28), np.uint8), ((3, 9, 7, 3), np.uint8),
                                          ((4, 8, 8), np.float32)])
def test_distort_keeps_shape_dtype_and_zero_is_identity(shape, dtype):
    x = (np.random.default_rng(0).random(shape) * 255).astype(dtype)
    out = pp.distort(x, np.random.default_rng(0))
    assert out.shape == x.shape and out.dtype == x.dtype
    assert not np.array_equal(out, x)                      # the defaults do move the pixels
    same = pp.distort(x, 0, rotation=0, scale=0, shift=0)
    np.testing.assert_array_equal(same, x)
    assert same is not x


@pytest.mark.parametrize("dy, dx", [(2, 2), (-3, 1), (0, -2)])
def test_distort_pure_shift_moves_a_lit_pixel(dy, dx):
    x = lit((1, 12, 12), 5, 4)
    out = pp.distort(x, Scripted(0.0, 1.0, [[dy], [dx]]), rotation=0, scale=0, shift=3)
    np.testing.assert_array_equal(out, lit((1, 12, 12), 5 + dy, 4 + dx))
    # the same move for every channel; a pixel moved out of the image is gone
    x4 = np.repeat(x[..., None], 2, axis=3)
    out4 = pp.distort(x4, Scripted(0.0, 1.0, [[dy], [dx]]), rotation=0, scale=0, shift=3)
    np.testing.assert_array_equal(out4, np.repeat(out[..., None], 2, axis=3))
    gone = pp.distort(lit((1, 12, 12), 11, 11), Scripted(0.0, 1.0, [[1], [0]]), 0, 0, 1)
    assert not gone.any()


def test_distort_turns_and_scales_about_the_centre():
    x = lit((1, 9, 9), 2, 4)                                # 2 rows above the centre (4, 4)
    np.testing.assert_array_equal(pp.distort(x, Scripted(90.0, 1.0, [[0], [0]]), 90, 0, 0),
                                  lit((1, 9, 9), 4, 6))       # a quarter turn: now 2 to the right
    big = pp.distort(x, Scripted(0.0, 1.5, [[0], [0]]), 0, 0.5, 0)[0].astype(float)
    # half as big again: the pixel is now 3 rows above the centre, blurred around (1, 4)
    assert big[1, 4] == 200 and np.unravel_index(big.argmax(), big.shape) == (1, 4)
    rows, cols = np.mgrid[0:9, 0:9]
    assert (rows * big).sum() / big.sum() == pytest.approx(1.0)
    assert (cols * big).sum() / big.sum() == pytest.approx(4.0)
    assert np.count_nonzero(big) > 1


def test_distort_matches_scipy_affine_transform_per_image():
    from scipy import ndimage

    x = np.random.default_rng(3).random((6, 11, 13)).astype(np.float32)
    out = pp.distort(x, np.random.default_rng(4), rotation=25, scale=0.2, shift=2.5)
    twin = np.random.default_rng(4)                        # the same draws, in the same order
    angle = np.deg2rad(twin.uniform(-25, 25, 6))
    zoom = twin.uniform(0.8, 1.2, 6)
    dy, dx = twin.uniform(-2.5, 2.5, (2, 6))
    centre = np.array([5.0, 6.0])
    for k in range(6):
        c, s = np.cos(angle[k]) / zoom[k], np.sin(angle[k]) / zoom[k]
        m = np.array([[c, -s], [s, c]])                    # source = m @ (output - centre - d) + centre
        offset = centre - m @ (centre + [dy[k], dx[k]])
        ref = ndimage.affine_transform(x[k].astype(np.float64), m, offset, order=1,
                                       mode="grid-constant", cval=0.0)
        np.testing.assert_allclose(out[k], ref, atol=1e-5)


def test_distort_deterministic_per_seed():
    x = images_nhwc(n=6, h=10, w=10, c=1)[..., 0]
    a = pp.distort(x, np.random.default_rng(7))
    np.testing.assert_array_equal(pp.distort(x, 7), a)
    assert not np.array_equal(pp.distort(x, 8), a)


@pytest.mark.parametrize("images, kw, match", [
    (np.zeros((28, 28), np.uint8), {}, r"\[distort\] images must be \[N, H, W\]"),
    (np.zeros((2, 4, 4, 1, 1), np.uint8), {}, r"\[distort\] images must be \[N, H, W\]"),
    (np.zeros((2, 4, 4), np.uint8), {"scale": 1.0}, r"\[distort\] scale must be a number in \[0, 1\)"),
    (np.zeros((2, 4, 4), np.uint8), {"rotation": -5}, r"\[distort\] rotation must be a number >= 0"),
    (np.zeros((2, 4, 4), np.uint8), {"shift": "2"}, r"\[distort\] shift must be a number >= 0"),
])
def test_distort_bad_input(images, kw, match):
    with pytest.raises(UsageError, match=match):
        pp.distort(images, 0, **kw)


def test_held_out_split_bad_sizes():
    labels = np.arange(20) % 2
    for test_size, val_size in ((0, 5), (5, -1), (10, 10)):
        with pytest.raises(UsageError, match=r"\[held_out_split\] test_size"):
            pp.held_out_split(labels, test_size, val_size)
    parts = pp.held_out_split(labels, 4, 2)
    assert {k: len(v) for k, v in parts.items()} == {"train": 14, "val": 2, "test": 4}


# ----------------------------------------------------------------------------- split

def test_split_stratified_deterministic_disjoint():
    labels = np.repeat(np.arange(4), [100, 50, 30, 20])
    images = np.arange(len(labels))                        # image i "is" its index
    (tr_x, tr_y), (va_x, va_y) = pp.split(images, labels, 0.2, seed=0)
    assert len(va_y) == 40 and len(tr_y) == 160
    assert np.bincount(va_y).tolist() == [20, 10, 6, 4]
    assert set(tr_x).isdisjoint(va_x) and set(tr_x) | set(va_x) == set(images)
    np.testing.assert_array_equal(labels[tr_x], tr_y)      # images stay with their labels
    (tr2, _), (va2, _) = pp.split(images, labels, 0.2, seed=0)
    np.testing.assert_array_equal(va2, va_x)
    np.testing.assert_array_equal(tr2, tr_x)
    (_, _), (va3, _) = pp.split(images, labels, 0.2, seed=1)
    assert not np.array_equal(va3, va_x)


def test_split_uneven_fraction_and_zero():
    labels = np.random.default_rng(0).integers(0, 7, 999)
    (_, tr_y), (_, va_y) = pp.split(np.zeros((999, 2, 2, 1)), labels, 0.15, seed=3)
    assert len(va_y) == round(0.15 * 999)
    assert np.all(np.abs(np.bincount(va_y, minlength=7) - 0.15 * np.bincount(labels)) < 1)
    (tr, _), (va, _) = pp.split(np.arange(10), np.arange(10) % 2, 0.0)
    assert len(va) == 0 and len(tr) == 10


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5])
def test_split_bad_fraction(bad):
    with pytest.raises(UsageError, match="val_fraction"):
        pp.split(np.zeros(4), np.zeros(4, int), bad)


# ----------------------------------------------------------------------------- batches

@pytest.mark.parametrize("n,bs,drop", [(10, 3, False), (10, 3, True), (9, 3, False), (5, 8, False)])
def test_num_batches(n, bs, drop):
    expected = n // bs if drop else int(np.ceil(n / bs))
    assert pp.num_batches(n, bs, drop) == expected
    got = list(pp.batches(np.arange(n), np.arange(n), bs, shuffle=False, drop_remainder=drop))
    assert len(got) == expected


def test_batches_cover_each_example_once_when_shuffling():
    n = 103
    images, labels = np.arange(n) * 10, np.arange(n)
    rng = np.random.default_rng(0)
    epochs = [list(pp.batches(images, labels, 16, rng=rng)) for _ in range(2)]
    for epoch in epochs:
        seen = np.concatenate([lbl for _, lbl in epoch])
        assert sorted(seen) == list(range(n))
        assert all(np.array_equal(img, lbl * 10) for img, lbl in epoch)     # pairs kept together
        assert [len(lbl) for _, lbl in epoch] == [16] * 6 + [7]
    first = [np.concatenate([lbl for _, lbl in e]) for e in epochs]
    assert not np.array_equal(first[0], np.arange(n))                        # shuffled
    assert not np.array_equal(first[0], first[1])                            # reshuffled per epoch


def test_batches_drop_remainder_and_order():
    out = list(pp.batches(np.arange(10), np.arange(10), 4, shuffle=False, drop_remainder=True))
    assert [b[1].tolist() for b in out] == [[0, 1, 2, 3], [4, 5, 6, 7]]


@pytest.mark.parametrize("bs", [0, -2, 2.5])
def test_batches_bad_batch_size_raises_at_call(bs):
    with pytest.raises(UsageError, match="batch_size"):
        pp.batches(np.zeros(4), np.zeros(4), bs)              # no next() needed
    with pytest.raises(UsageError):
        pp.num_batches(4, bs)


def test_batches_length_mismatch():
    with pytest.raises(UsageError, match="3 images but 2 labels"):
        pp.batches(np.zeros(3), np.zeros(2), 1)
