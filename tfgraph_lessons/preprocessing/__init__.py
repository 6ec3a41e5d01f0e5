"""Chapter 2: the data sets, preprocessing, batches and epochs, ReLU, overfitting and dropout.

    python -m tfgraph_lessons.preprocessing [--download] [--sectors K] [--train-size N]
        [--keep-prob P] [shared lesson options]

The slides' second chapter, one section per slide, each computed by the
library and written to ``OUT/metrics.json`` and ``OUT/figures/*.png``:

1. **The data sets** MNIST [1], CIFAR-10/100 [2], SVHN [3] and scikit-learn's 8x8
   digits [4]: each one the loaders reach on disk is loaded (shapes, dtype,
   class names, a grid of samples); the others are listed with the reason they
   were not. COCO [5] is described and not downloaded: a small annotation file
   in COCO's own format is written and read back (``OUT/coco_example.json``).
2. **Channels**: a colour image is three grey images, R, G and B.
3. **Normalisation**: min-max ``x' = (x - min(x)) / (max(x) - min(x))`` (with
   NumPy and as a graph op) and standardisation ``(x - mean) / std`` per channel,
   with the pixel histograms before and after.
4. **Augmentation** [6, 7]: random shifts (pad and crop), left-right flips, small
   rotations/zooms, and a grid of augmented copies of one image.
5. **Batch training**: an epoch is one pass over the training set in shuffled
   mini-batches; ``ceil(N / batch_size)`` batches per epoch.
6. **Train / validation / test**: a stratified three-way split keeps every
   class's share the same in each part.
7. **ReLU** ("could you divide two sorted sectors using just one line?"): two
   halves of a disc, yes; alternating sectors, no: a linear classifier stays near
   chance, while one hidden layer of ReLUs (each unit one line, ``max(0, w.x + b)``)
   makes them separable for the linear output layer above it.
8. **Overfitting and dropout** [8]: a network with more weights than training
   examples learns 100 digits by heart; dropout (keep_prob 0.5) narrows the gap
   between training and test accuracy.

[1] Y. LeCun et al. "Gradient-Based Learning Applied to Document Recognition." 1998.
[2] A. Krizhevsky. "Learning Multiple Layers of Features from Tiny Images." 2009.
[3] Y. Netzer et al. "Reading Digits in Natural Images with Unsupervised Feature Learning." 2011.
[4] E. Alpaydin, C. Kaynak. "Optical Recognition of Handwritten Digits." UCI, 1998.
[5] T.-Y. Lin et al. "Microsoft COCO: Common Objects in Context." ECCV 2014; the
    annotation format: https://cocodataset.org/#format-data
[6] A. Krizhevsky, I. Sutskever, G. Hinton. "ImageNet Classification with Deep
    Convolutional Neural Networks." NIPS 2012, section 4.1.
[7] P. Simard, D. Steinkraus, J. Platt. "Best Practices for Convolutional Neural
    Networks Applied to Visual Document Analysis." ICDAR 2003.
[8] N. Srivastava, G. Hinton, A. Krizhevsky, I. Sutskever, R. Salakhutdinov.
    "Dropout: A Simple Way to Prevent Neural Networks from Overfitting." JMLR 2014.

Nothing is downloaded unless ``--download`` is given; scikit-learn's digits and
sample photographs ship with scikit-learn, so every section runs offline.
``--epochs``/``--steps`` set the length of the overfitting demo, ``--batch-size``
its mini-batches. Taught in ``notebooks/02_data.ipynb``.

Modules: :mod:`.sets` (the data sets, COCO's format), :mod:`.transforms`
(channels, normalisation, augmentation, batches, splits), :mod:`.networks` (the
ReLU question, overfitting and dropout), :mod:`.lesson` (the command line).
"""
from tfgraph_lessons.preprocessing.sets import (coco_example, colour_images, read_coco,
                                                sample_photos, survey_datasets,
                                                write_coco_example)
from tfgraph_lessons.preprocessing.transforms import (augmentations, batch_plan, channels,
                                                      changed_fraction, min_max_graph,
                                                      normalisation, split_report)
from tfgraph_lessons.preprocessing.networks import (fit_sector_classifier, overfitting_demo,
                                                    relu_question, sector_points)

__all__ = [
    "survey_datasets", "sample_photos", "colour_images", "coco_example", "write_coco_example",
    "read_coco",
    "channels", "normalisation", "min_max_graph", "augmentations", "changed_fraction",
    "batch_plan", "split_report",
    "sector_points", "fit_sector_classifier", "relu_question", "overfitting_demo",
    "PrepConfig", "run", "parse_config", "main",
]


def __getattr__(name):
    """The lesson's entry points (PrepConfig, main, parse_config, run), imported on first use, so that
    ``python -m tfgraph_lessons.preprocessing.lesson`` does not find its module already imported."""
    if name in ('PrepConfig', 'main', 'parse_config', 'run'):
        from tfgraph_lessons.preprocessing import lesson

        return getattr(lesson, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
