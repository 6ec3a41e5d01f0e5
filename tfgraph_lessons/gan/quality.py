"""How good are a GAN's digits? Three numbers from a digit classifier, and how far to trust them.

A generator's loss says nothing about its pictures (the discriminator it is
measured against keeps changing), so the GAN chapter scores samples with a
separate, fixed judge: a small CNN trained on real MNIST digits. For a set of
images it reports

1. **mean confidence**: the classifier's top probability, averaged over the
   images. A real digit is classified with high confidence (above 0.9 for
   held-out MNIST digits); a blob that is half a 3 and half an 8 is not. This
   is the "each sample looks like *some* digit" half of the Inception score [2].
2. **class entropy**: the entropy, in nats, of the histogram of predicted
   classes. Ten equally frequent digits give ln 10 = 2.30; a generator that
   draws only 1s gives 0. This is the "all ten digits are there" half of [2],
   and :func:`mode_collapse` turns a collapsed histogram into a warning.
3. **Frechet distance in this MNIST classifier's feature space**: fit a Gaussian
   to the classifier's penultimate-layer features (the 128 ReLUs before the
   logits) of real held-out images and another to those of the generated
   images, and measure the Frechet (2-Wasserstein) distance between the two [3]::

       d^2 = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2))

   It compares whole distributions: it grows when the samples are blurry,
   when a digit is missing, and when they are too alike (a small S2), which
   neither number above sees alone. It is the recipe of the FID [1] with this
   MNIST classifier in place of the Inception network.

Why the numbers can be trusted
------------------------------
- The classifier is trained on the training part of the data only, and its
  accuracy is measured on a validation part it never saw; the lesson prints
  it, so a judge that cannot read digits is noticed.
- The Frechet distance is measured against the features of a *held-out* part
  (images the classifier was not trained on), so real digits are not favoured
  for being memorised.
- Every number comes with its reference: real held-out digits scored the same
  way give the best a generator can hope for (a real-vs-real Frechet distance
  is not 0, see below), and the untrained generator gives the floor. A GAN's
  numbers mean something only between those two.

Limits
------
- The Frechet distance here is **not** comparable to the FID numbers in papers:
  those use Inception-v3 features of 299x299 colour images; this uses a 128-unit
  layer of a small MNIST CNN. Compare it only with numbers from the same
  classifier (the same cache) and the same number of images. That is why this
  module never calls it "FID".
- It is biased upwards for a finite number N of images: the covariance of 128
  features estimated from N samples is noisy, and the noise adds a positive term
  that shrinks roughly like 1/N [4]. Two disjoint sets of 1,000 real digits are
  therefore a few units apart with this classifier, not 0. Score generated and
  reference sets with the same N, and read a GAN's distance against the
  real-vs-real one at that N.
- The mean confidence depends on how long the judge was trained, not only on
  the samples: a network stopped early is unsure of everything. On the offline
  MNIST split the same 1,000 samples of one DCGAN got 0.851 from this classifier
  after 3 epochs (validation accuracy 97.2%) and 0.910 after 10 (98.4%; 20
  epochs gave 98.4% too), real held-out digits 0.970 and 0.990, the untrained
  generator's noise 0.631 and 0.682. The lesson trains it until its accuracy
  stops rising (10 epochs) and prints the real digits' value beside the
  samples', because a confidence means something only against that reference.
- A classifier can be fooled: images made to excite its features (adversarial
  patterns) can score well without looking like digits to a person. The numbers
  measure "like MNIST to this network"; the sample grid in the lesson is still
  the final check.
- The class entropy sees which digits are drawn, not how varied each digit is:
  a generator with one perfect 7, one perfect 3, ... scores ln 10. The Frechet
  distance (through S2) is the number that catches that.

[1] M. Heusel, H. Ramsauer, T. Unterthiner, B. Nessler, S. Hochreiter. "GANs Trained
    by a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium."
    NIPS 2017. arXiv:1706.08500 (the FID).
[2] T. Salimans, I. Goodfellow, W. Zaremba, V. Cheung, A. Radford, X. Chen.
    "Improved Techniques for Training GANs." NIPS 2016. arXiv:1606.03498
    (the Inception score: confident predictions, varied classes).
[3] D. C. Dowson, B. V. Landau. "The Frechet distance between multivariate normal
    distributions." J. Multivariate Analysis 12(3), 1982.
[4] M. J. Chong, D. Forsyth. "Effectively Unbiased FID and Inception Score and
    where to find them." CVPR 2020. arXiv:1911.07023 (the bias with N).

The classifier is the two-convolution network of TensorFlow's "Deep MNIST for
Experts" tutorial, with a 128-unit hidden layer instead of 1,024.

Usage::

    clf = DigitClassifier("runs/gan/digit_classifier")
    clf.fit_or_load(train_images, train_labels, val_images, val_labels,
                    identity={"data_source": "test-split", "train_size": 7000,
                              "split_seed": 0,
                              "train_sha": data_fingerprint(train_images, train_labels)})
    ref = clf.score(test_images)                        # real held-out digits
    reference_stats = (ref["features_mu"], ref["features_sigma"])
    q = quality(clf, generated_images, reference_stats)  # same N as test_images
    warning = mode_collapse(q["class_histogram"], q["class_entropy"])
    clf.close()

Taught in the GAN chapter (``gan_mnist``).
"""
import hashlib
import json
import math
import os
import shutil
import uuid
import warnings
from pathlib import Path

import numpy as np
import scipy.linalg
import tensorflow as tf
from tqdm import tqdm

from tfgraph_lessons.core import layers
from tfgraph_lessons.core.device import session_config
from tfgraph_lessons.core.errors import UsageError
from tfgraph_lessons.core.graph import new_graph, tf1
from tfgraph_lessons.core.io import write_json
from tfgraph_lessons.core.rundir import CHECKPOINT_PREFIX, STATE_FILE, checkpoint_path, resume_point
from tfgraph_lessons.data.preprocess import batches

__all__ = [
    "DigitClassifier",
    "build_classifier",
    "class_entropy",
    "class_histogram",
    "data_fingerprint",
    "feature_stats",
    "frechet_distance",
    "mode_collapse",
    "quality",
]

NUM_CLASSES = 10
IMAGE_SHAPE = (28, 28, 1)
FEATURE_UNITS = 128          # the penultimate layer: enough to separate ten digits, and a
                             # 128x128 covariance is estimated tolerably from ~1,000 images
LEARNING_RATE = 1e-3         # Adam's default; two epochs of 3,000 digits already give ~95%
# what the network is; a cache made by another architecture is retrained, not restored
ARCHITECTURE = "conv5x5x32-pool2-conv5x5x64-pool2-fc128-fc10"
CACHE_KIND = "mnist_digit_classifier"
SQRTM_EPS = 1e-6             # added to both covariances when S1 S2 is singular, as in [1]'s code


# --------------------------------------------------------------------------- statistics


def feature_stats(features):
    """Mean and covariance of a set of feature vectors: the Gaussian the Frechet distance compares.

    Args:
      features: ``[N, D]`` array (N >= 2).
    Returns:
      ``(mu [D], sigma [D, D])`` in float64; ``sigma`` is ``np.cov(..., rowvar=False)``
      (divides by N - 1).
    """
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[0] < 2:
        raise UsageError(f"feature_stats expects [N, D] features with N >= 2, got shape "
                         f"{list(features.shape)}")
    mu = features.mean(axis=0)
    sigma = np.atleast_2d(np.cov(features, rowvar=False))   # D = 1 would give a 0-d array
    return mu, sigma


def _as_gaussian(mu, sigma, which):
    mu = np.atleast_1d(np.asarray(mu, dtype=np.float64))
    sigma = np.atleast_2d(np.asarray(sigma, dtype=np.float64))
    d = mu.shape[0]
    if mu.ndim != 1 or sigma.shape != (d, d):
        raise UsageError(f"frechet_distance: mu{which} must be [D] and sigma{which} [D, D], got "
                         f"{list(mu.shape)} and {list(sigma.shape)}")
    if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        raise UsageError(f"frechet_distance: mu{which} or sigma{which} holds NaN or infinity")
    return mu, sigma


def _sqrtm(matrix):
    """``scipy.linalg.sqrtm`` and whether it was reliable (finite, and ``matrix`` not singular)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", scipy.linalg.LinAlgWarning)
        root = scipy.linalg.sqrtm(matrix)
    singular = any(issubclass(w.category, scipy.linalg.LinAlgWarning) for w in caught)
    return root, bool(np.isfinite(root).all()) and not singular


def frechet_distance(mu1, sigma1, mu2, sigma2, eps=SQRTM_EPS):
    """Frechet distance between the Gaussians ``N(mu1, sigma1)`` and ``N(mu2, sigma2)`` [3]::

        ||mu1 - mu2||^2 + Tr(sigma1 + sigma2 - 2 sqrtm(sigma1 @ sigma2))

    Computed in float64 as the reference FID code [1] does: when ``sigma1 @ sigma2``
    is singular (fewer images than features, or a feature that never varies, as a
    dead ReLU), ``eps * I`` is added to both covariances first; the tiny imaginary
    part that ``sqrtm`` leaves from rounding is dropped.

    Args:
      mu1, mu2: ``[D]`` means.
      sigma1, sigma2: ``[D, D]`` covariances (for D = 1 a scalar variance works too).
      eps: the diagonal offset used when the product is singular.
    Returns:
      a Python float >= 0 (up to rounding); 0 for identical statistics, symmetric.
    Raises:
      UsageError: shapes that do not match, or non-finite statistics.
      ValueError: ``sqrtm`` gives a large imaginary part (covariances that are not
        positive semi-definite).
    """
    mu1, sigma1 = _as_gaussian(mu1, sigma1, 1)
    mu2, sigma2 = _as_gaussian(mu2, sigma2, 2)
    if mu1.shape != mu2.shape:
        raise UsageError(f"frechet_distance: the two Gaussians have {mu1.shape[0]} and "
                         f"{mu2.shape[0]} dimensions; score both sets with the same classifier")
    diff = mu1 - mu2
    covmean, reliable = _sqrtm(sigma1 @ sigma2)
    if not reliable:
        offset = np.eye(sigma1.shape[0]) * eps
        covmean, _ = _sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        # S1 S2 of two PSD matrices has real eigenvalues >= 0, so its square root is real;
        # what is left is rounding, unless the inputs were not covariances at all
        imag = np.abs(covmean.imag).max()
        if imag > 1e-3 * max(1.0, np.abs(covmean.real).max()):
            raise ValueError(f"frechet_distance: sqrtm(sigma1 @ sigma2) has an imaginary part "
                             f"of {imag:.3g}; are sigma1 and sigma2 covariance matrices?")
        covmean = covmean.real
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean)
    return float(value)


def _check_predicted(predicted, num_classes):
    predicted = np.asarray(predicted)
    if predicted.ndim != 1 or predicted.size == 0 or not np.issubdtype(predicted.dtype, np.integer):
        raise UsageError(f"expected a non-empty [N] array of integer classes, got "
                         f"{predicted.dtype} {list(predicted.shape)}")
    if predicted.min() < 0 or predicted.max() >= num_classes:
        raise UsageError(f"predicted classes must be in 0..{num_classes - 1}, got "
                         f"{predicted.min()}..{predicted.max()}")
    return predicted


def class_histogram(predicted, num_classes=NUM_CLASSES):
    """The fraction of images predicted as each class.

    Args:
      predicted: ``[N]`` integer classes in ``0..num_classes-1`` (N >= 1).
      num_classes: length of the histogram.
    Returns:
      ``[num_classes]`` float64 fractions summing to 1.
    """
    predicted = _check_predicted(predicted, num_classes)
    return np.bincount(predicted, minlength=num_classes) / float(predicted.size)


def class_entropy(predicted_classes, num_classes=NUM_CLASSES):
    """Entropy in nats of the histogram of predicted classes.

    ``ln(num_classes)`` (2.303 for ten digits) when every class is equally frequent,
    0 when all images fall into one class.

    Args:
      predicted_classes: ``[N]`` integer classes in ``0..num_classes-1``.
      num_classes: number of classes.
    Returns:
      a Python float in ``[0, ln(num_classes)]``.
    """
    p = class_histogram(predicted_classes, num_classes)
    p = p[p > 0]                     # 0 ln 0 = 0
    return max(0.0, float(-(p * np.log(p)).sum()))   # one class: 0.0, not -0.0


def mode_collapse(histogram, entropy, threshold_entropy=1.5, max_fraction=0.5):
    """A one-line warning when the class histogram has collapsed, else None.

    Collapse is a class entropy below ``threshold_entropy`` nats or one class taking
    more than ``max_fraction`` of the samples. The defaults leave room for a healthy
    generator's unevenness (real MNIST: 2.30 nats, at most ~11% per digit) and fire
    well before the generator draws only two or three digits (ln 3 = 1.10).

    Args:
      histogram: ``[num_classes]`` fractions (:func:`class_histogram`).
      entropy: the class entropy in nats (:func:`class_entropy`).
      threshold_entropy: warn below this entropy.
      max_fraction: warn when one class holds more than this fraction.
    Returns:
      None, or e.g. ``"mode collapse: 71% of the samples are classified as 1
      (class entropy 0.92 nats of 2.30)"``.
    """
    histogram = np.asarray(histogram, dtype=np.float64)
    if histogram.ndim != 1 or histogram.size < 2:
        raise UsageError(f"mode_collapse expects a [num_classes] histogram, got shape "
                         f"{list(histogram.shape)}")
    top = int(np.argmax(histogram))
    if entropy >= threshold_entropy and histogram[top] <= max_fraction:
        return None
    return (f"mode collapse: {histogram[top]:.0%} of the samples are classified as {top} "
            f"(class entropy {entropy:.2f} nats of {math.log(histogram.size):.2f})")


def data_fingerprint(images, labels):
    """A SHA-256 of the images and labels (their shapes, dtypes and bytes), for the
    classifier cache's identity: a cache trained on other data is never reused."""
    h = hashlib.sha256()
    for array in (np.ascontiguousarray(images), np.ascontiguousarray(labels)):
        h.update(f"{array.dtype.str}{list(array.shape)}".encode())
        h.update(array.tobytes())
    return h.hexdigest()


# --------------------------------------------------------------------------- the network


def _he(fan_in):
    """He et al.'s ReLU initialisation scale sqrt(2 / fan_in). The slides' fixed 0.1 is
    ten times too large for the 3,136 inputs of fc1, and the classifier then needs
    several epochs instead of two to pass 95%."""
    return math.sqrt(2.0 / fan_in)


def build_classifier(images, num_classes=NUM_CLASSES):
    """The digit classifier's graph, one layer per line.

    Args:
      images: ``[batch, 28, 28, 1]`` float32 in [0, 1].
      num_classes: number of logits.
    Returns:
      ``(logits [batch, num_classes], end_points)``; ``end_points['features']`` is the
      penultimate layer ``[batch, 128]`` that the Frechet distance uses.
    """
    end_points = {}
    with tf1.variable_scope("digit_classifier"):
        net = layers.conv2d(images, 32, 5, stddev=_he(5 * 5 * 1), scope="conv1")  # [b, 28, 28, 32]
        end_points["conv1"] = net
        net = layers.max_pool(net, 2, 2, name="pool1")                            # [b, 14, 14, 32]
        end_points["pool1"] = net
        net = layers.conv2d(net, 64, 5, stddev=_he(5 * 5 * 32), scope="conv2")    # [b, 14, 14, 64]
        end_points["conv2"] = net
        net = layers.max_pool(net, 2, 2, name="pool2")                            # [b, 7, 7, 64]
        end_points["pool2"] = net
        net = layers.fully_connected(net, FEATURE_UNITS, stddev=_he(7 * 7 * 64),
                                     scope="fc1")                                 # [b, 128]
        end_points["features"] = net
        logits = layers.fully_connected(net, num_classes, activation=None,
                                        stddev=_he(FEATURE_UNITS), scope="logits")  # [b, 10]
        end_points["logits"] = logits
    return logits, end_points


def _as_images(images):
    """``images`` as float32 ``[N, 28, 28, 1]`` in [0, 1]; uint8 0..255 is scaled."""
    images = np.asarray(images)
    if images.ndim != 4 or tuple(images.shape[1:]) != IMAGE_SHAPE:
        raise UsageError(f"DigitClassifier expects [N, 28, 28, 1] images, got "
                         f"{images.dtype} {list(images.shape)}")
    if images.dtype == np.uint8:
        return images.astype(np.float32) / 255.0
    if not np.issubdtype(images.dtype, np.floating):
        raise UsageError(f"DigitClassifier expects float images in [0, 1] or uint8 0..255, "
                         f"got {images.dtype}")
    images = images.astype(np.float32, copy=False)
    if images.size:
        lo, hi = float(images.min()), float(images.max())
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise UsageError("DigitClassifier got images holding NaN or infinity")
        # a tanh generator's [-1, 1] output would be scored as other pictures than it shows
        if lo < -1e-3 or hi > 1 + 1e-3:
            raise UsageError(f"DigitClassifier expects pixel values in [0, 1], got "
                             f"[{lo:.3g}, {hi:.3g}]; map a tanh output x to (x + 1) / 2")
    return images


def _as_labels(labels, n, what):
    labels = np.asarray(labels)
    if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
        raise UsageError(f"DigitClassifier: {what} labels must be [{n}] integers, got "
                         f"{labels.dtype} {list(labels.shape)}")
    if n and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise UsageError(f"DigitClassifier: {what} labels must be in 0..{NUM_CLASSES - 1}, "
                         f"got {labels.min()}..{labels.max()}")
    return labels.astype(np.int64)


def _normalise(value):
    """A JSON round trip, so tuples, lists and NumPy scalars compare as they will after a save."""
    def builtin(obj):
        if hasattr(obj, "tolist"):
            return obj.tolist()
        if isinstance(obj, Path):
            return str(obj)
        raise TypeError(f"{type(obj).__name__} is not JSON serialisable")
    return json.loads(json.dumps(value, default=builtin))


# --------------------------------------------------------------------------- the classifier


class DigitClassifier:
    """The fixed judge of generated digits: a small CNN in its own graph and Session.

    It never touches the caller's default graph, so a lesson can build its GAN,
    train it in its own Session and score samples with this one side by side.

    Args:
      ckpt_dir: the folder of the cached classifier (created when it is trained;
        a folder holding anything else is refused, never overwritten).
      seed: graph-level seed and seed of the mini-batch shuffle.
    """

    def __init__(self, ckpt_dir, seed=0):
        self.ckpt_dir = Path(ckpt_dir)
        self.seed = int(seed)
        self._fitted = False
        with new_graph(seed=self.seed) as graph:
            self.images = layers.inputs(IMAGE_SHAPE, name="images")          # [batch, 28, 28, 1]
            self.labels = tf1.placeholder(tf.int64, [None], name="labels")  # [batch]
            self.logits, self.end_points = build_classifier(self.images)
            self.probs = tf.nn.softmax(self.logits, name="probs")               # [batch, 10]
            self.loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=self.labels, logits=self.logits), name="loss")
            self.train_op = tf1.train.AdamOptimizer(LEARNING_RATE).minimize(self.loss)
            # Adam's slots are saved too: a restored network predicts the same either way
            self.saver = tf1.train.Saver(max_to_keep=1, save_relative_paths=True)
            self.init = tf1.global_variables_initializer()
            graph.finalize()
        self.graph = graph
        self.sess = tf1.Session(graph=graph, config=session_config())

    # ------------------------------------------------------------------ training or loading

    def _settings(self, epochs, batch_size):
        """What besides the data makes a cached classifier this one."""
        return {"architecture": ARCHITECTURE, "epochs": int(epochs), "batch_size": int(batch_size),
                "learning_rate": LEARNING_RATE, "seed": self.seed}

    def _lookup_cache(self, identity, settings):
        """``(prefix, state, None)`` when ``ckpt_dir`` holds a usable classifier made with
        this identity and these settings, else ``(None, None, why not)``.

        Raises:
          UsageError: ``ckpt_dir`` holds another run's checkpoints.
        """
        try:
            prefix, state = resume_point(self.ckpt_dir)
        except UsageError as e:   # a cache, not a run: retrain rather than stop the lesson
            return None, None, f"its cache is unusable ({str(e).split(';')[0]})"
        if state is None:
            return None, None, "there is no cached classifier yet"
        if state.get("kind") != CACHE_KIND:   # another run's checkpoints: never train over them
            raise UsageError(f"{self.ckpt_dir} holds checkpoints that are not a digit classifier's "
                             "and would be replaced; give the classifier a folder of its own")
        for name, want in (("identity", identity), ("training", settings)):
            saved = state.get(name) or {}
            for key in sorted(set(saved) | set(want)):
                if saved.get(key) != want.get(key):
                    return None, None, (f"the cache was made with {key} {saved.get(key)!r}, "
                                        f"this run has {want.get(key)!r}")
        return prefix, state, None

    def fit_or_load(self, train_images, train_labels, val_images, val_labels, identity,
                    epochs=10, batch_size=128, progress=True):
        """Load the cached classifier made from this data, or train and cache one.

        Args:
          train_images: ``[N, 28, 28, 1]`` float32 in [0, 1] or uint8, the training part only.
          train_labels: ``[N]`` digits.
          val_images, val_labels: a part the classifier never trains on, for its accuracy.
          identity: a JSON-able dict naming the data (source, sizes, split seed, a
            :func:`data_fingerprint`); a cache made with another identity, or with other
            ``epochs`` / ``batch_size`` / seed, is trained over, with a printed reason.
          epochs, batch_size: Adam (lr 1e-3) training settings.
          progress: show a tqdm bar while training (only on a terminal).
        Returns:
          ``{'val_accuracy': float, 'cached': bool, 'ckpt_dir': str}``.
        """
        if not isinstance(identity, dict) or not identity:
            raise UsageError("DigitClassifier.fit_or_load needs a non-empty identity dict "
                             "(data source, sizes, split seed, data fingerprint)")
        if int(epochs) < 1 or int(batch_size) < 1:
            raise UsageError(f"DigitClassifier.fit_or_load: epochs and batch_size must be >= 1, "
                             f"got {epochs} and {batch_size}")
        train_images = _as_images(train_images)
        train_labels = _as_labels(train_labels, len(train_images), "training")
        val_images = _as_images(val_images)
        val_labels = _as_labels(val_labels, len(val_images), "validation")
        if len(train_images) == 0 or len(val_images) == 0:
            raise UsageError("DigitClassifier.fit_or_load needs non-empty training and "
                             "validation parts")
        identity, settings = _normalise(identity), self._settings(epochs, batch_size)
        prefix, state, why = self._lookup_cache(identity, settings)
        if why is None:
            try:
                self.saver.restore(self.sess, prefix)
            except (tf.errors.OpError, ValueError) as e:   # e.g. a truncated data file
                why = f"its checkpoint cannot be read ({str(e).splitlines()[0][:80]})"
        if why is None:
            self._fitted = True
            print(f"loaded the cached digit classifier from {self.ckpt_dir} "
                  f"(validation accuracy {state['val_accuracy']:.4f})")
            return {"val_accuracy": float(state["val_accuracy"]), "cached": True,
                    "ckpt_dir": str(self.ckpt_dir)}
        _check_cache_folder(self.ckpt_dir)        # before training: refuse a foreign folder early
        print(f"training the digit classifier: {why}")
        step = self._train(train_images, train_labels, epochs, batch_size, progress)
        self._fitted = True
        accuracy = float(np.mean(self.predict(val_images)["probs"].argmax(axis=1) == val_labels))
        state = {"step": step, "kind": CACHE_KIND, "identity": identity, "training": settings,
                 "val_accuracy": accuracy, "val_size": len(val_images)}
        self._save(step, state)
        print(f"digit classifier: validation accuracy {accuracy:.4f} on {len(val_images):,} "
              f"images; cached in {self.ckpt_dir}")
        return {"val_accuracy": accuracy, "cached": False, "ckpt_dir": str(self.ckpt_dir)}

    def _train(self, images, labels, epochs, batch_size, progress):
        """Adam from freshly initialised weights; returns the number of steps taken."""
        self.sess.run(self.init)
        rng = np.random.default_rng(self.seed)
        steps_per_epoch = -(-len(images) // batch_size)
        step = 0
        with tqdm(total=epochs * steps_per_epoch, desc="digit classifier", unit="step",
                  disable=None if progress else True) as bar:
            for _ in range(epochs):
                for x, y in batches(images, labels, batch_size, shuffle=True, rng=rng):
                    loss, _ = self.sess.run([self.loss, self.train_op],
                                            {self.images: x, self.labels: y})
                    step += 1
                    bar.update(1)
                    bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
        return step

    def _save(self, step, state):
        """Write checkpoint and state into a temporary sibling folder, then rename it into
        place: a run killed while saving leaves the old cache or none, never half of one."""
        parent, name = self.ckpt_dir.parent, self.ckpt_dir.name
        parent.mkdir(parents=True, exist_ok=True)
        tmp = parent / f".{name}.{uuid.uuid4().hex[:8]}.tmp"
        old = parent / f".{name}.{uuid.uuid4().hex[:8]}.old"
        try:
            tmp.mkdir()
            self.saver.save(self.sess, checkpoint_path(tmp, step), write_meta_graph=False)
            write_json(tmp / STATE_FILE, state)
            if self.ckpt_dir.exists():
                os.replace(self.ckpt_dir, old)    # out of the way in one step, deleted below
            os.replace(tmp, self.ckpt_dir)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        shutil.rmtree(old, ignore_errors=True)

    # ------------------------------------------------------------------ scoring

    def predict(self, images, batch_size=500):
        """Class probabilities and penultimate-layer features.

        Args:
          images: ``[N, 28, 28, 1]`` float32 in [0, 1] (uint8 0..255 is scaled).
          batch_size: images per ``Session.run``.
        Returns:
          ``{'probs': float32 [N, 10], 'features': float32 [N, 128]}``.
        """
        if not self._fitted:
            raise UsageError("DigitClassifier: call fit_or_load() before predict() or score()")
        images = _as_images(images)
        probs, features = [np.zeros((0, NUM_CLASSES), np.float32)], [
            np.zeros((0, FEATURE_UNITS), np.float32)]
        for start in range(0, len(images), int(batch_size)):
            p, f = self.sess.run([self.probs, self.end_points["features"]],
                                 {self.images: images[start:start + int(batch_size)]})
            probs.append(p)
            features.append(f)
        return {"probs": np.concatenate(probs), "features": np.concatenate(features)}

    def score(self, images):
        """The classifier's view of a set of images (N >= 2).

        Returns:
          ``{'mean_confidence': float, 'class_entropy': float (nats),
          'class_histogram': [10 fractions], 'features_mu': [128],
          'features_sigma': [128, 128], 'num_images': N}``.
        """
        out = self.predict(images)
        if len(out["probs"]) < 2:
            raise UsageError(f"DigitClassifier.score needs at least 2 images, got "
                             f"{len(out['probs'])}")
        predicted = out["probs"].argmax(axis=1)
        mu, sigma = feature_stats(out["features"])
        return {"mean_confidence": float(out["probs"].max(axis=1).mean()),
                "class_entropy": class_entropy(predicted),
                "class_histogram": class_histogram(predicted).tolist(),
                "features_mu": mu, "features_sigma": sigma,
                "num_images": len(predicted)}

    def close(self):
        """Release the Session (safe to call twice)."""
        if self.sess is not None:
            self.sess.close()
            self.sess = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _check_cache_folder(ckpt_dir):
    """Refuse to replace a folder that holds anything but a classifier cache (bad input
    loses nothing): only ``state.json``, ``checkpoint`` and ``model.ckpt-*`` may be there."""
    if not ckpt_dir.exists():
        return
    if not ckpt_dir.is_dir():
        raise UsageError(f"digit classifier cache {ckpt_dir} is a file; give a folder path")
    foreign = sorted(p.name for p in ckpt_dir.iterdir()
                     if p.name not in (STATE_FILE, "checkpoint")
                     and not p.name.startswith(CHECKPOINT_PREFIX + "-"))
    if foreign:
        raise UsageError(f"digit classifier cache {ckpt_dir} holds other files ({foreign[0]}, ...) "
                         "and would be replaced; give the classifier a folder of its own")


def quality(classifier, images, reference_stats):
    """Score generated images against real held-out ones.

    Args:
      classifier: a fitted :class:`DigitClassifier`.
      images: ``[N, 28, 28, 1]`` generated images in [0, 1]; N should be the number
        of real images behind ``reference_stats`` (the Frechet distance depends on N).
      reference_stats: ``(mu, sigma)`` of the real held-out images' features
        (``score(real)['features_mu']``, ``['features_sigma']``).
    Returns:
      ``{'mean_confidence', 'class_entropy', 'frechet_distance', 'class_histogram'}``;
      ``frechet_distance`` is the Frechet distance in this MNIST classifier's feature
      space (not an Inception FID).
    """
    mu_ref, sigma_ref = reference_stats
    s = classifier.score(images)
    return {"mean_confidence": s["mean_confidence"],
            "class_entropy": s["class_entropy"],
            "frechet_distance": frechet_distance(s["features_mu"], s["features_sigma"],
                                                 mu_ref, sigma_ref),
            "class_histogram": s["class_histogram"]}
