"""The figure catalogue in slide order: each registered figure's chapter, slide topic and
what it needs.

The registry (:mod:`tfgraph_lessons.figures`) knows how to draw a figure; this table
says where it sits in the course, so that ``python -m tfgraph_lessons.figures --list``
reads like the slide deck's table of contents and ``--chapter 04`` regenerates one
chapter's figures. Every registered figure has exactly one row here, and every row
a registered figure (``tests/test_figures.py`` checks both ways).

``needs`` says what a figure reads besides the library itself:

* ``""``: nothing; it is computed on the spot (small graphs run in a Session,
  scikit-learn's bundled data, a few seconds of training at most);
* ``"data"``: a data set on disk (``--data-dir`` / ``TFGRAPH_DATA``); without it the
  figure is skipped with a notice saying what to fetch;
* ``"run"``: a lesson's finished run folder (its ``metrics.json`` or snapshots);
  without it the figure is skipped with a notice naming the command to run first.
"""
import dataclasses

# chapter key -> title, in the order of the slides and of notebooks/NN_*.ipynb
CHAPTERS = {
    "01": "ML basics",
    "02": "data and preprocessing",
    "03": "TensorFlow: graph and session",
    "04": "CNNs on CIFAR-10",
    "05": "object detection",
    "06": "classic architectures",
    "07": "RNNs",
    "08": "reinforcement learning",
    "09": "GANs",
}

NEEDS = {"": "-", "data": "a data set on disk", "run": "a lesson's run"}


@dataclasses.dataclass(frozen=True)
class Slot:
    """Where one figure sits: its ``chapter`` (a key of :data:`CHAPTERS`), the slide
    ``topic`` it draws, and what it ``needs`` (a key of :data:`NEEDS`)."""

    name: str
    chapter: str
    topic: str
    needs: str = ""


CATALOGUE = (
    # 01 ML basics
    Slot("ml_map", "01", "the machine-learning map"),
    Slot("kmeans_steps", "01", "clustering: K-means step by step"),
    Slot("lasso_path", "01", "regression: LASSO and its path"),
    Slot("hebb_vs_oja", "01", "Hebbian learning"),
    Slot("rbm_features", "01", "restricted Boltzmann machines"),
    # 02 data and preprocessing
    Slot("data_digits_samples", "02", "data sets: sample grids"),
    Slot("data_mnist_samples", "02", "data sets: sample grids", "data"),
    Slot("data_svhn_samples", "02", "data sets: sample grids", "data"),
    Slot("data_cifar10_samples", "02", "data sets: sample grids", "data"),
    Slot("data_cifar100_samples", "02", "data sets: sample grids", "data"),
    Slot("prep_channels", "02", "an image split into R, G and B"),
    Slot("min_max_normalisation", "02", "min-max normalisation"),
    Slot("prep_normalisation", "02", "min-max normalisation and standardisation"),
    Slot("prep_batches_epochs", "02", "batch training and epochs"),
    Slot("prep_split", "02", "the validation / test split"),
    Slot("relu", "02", "ReLU"),
    Slot("prep_relu_separation", "02", "ReLU and the one-line separation question"),
    Slot("prep_overfitting_dropout", "02", "overfitting curves and dropout"),
    Slot("prep_augmentation", "02", "augmentation"),
    # 03 TensorFlow
    Slot("tf_graph_session", "03", "the graph drawn, and the session placing it on a device"),
    # 04 CNNs
    Slot("conv_slide_example", "04", "the convolution worked example"),
    Slot("conv_three_channels", "04", "the convolution over 3 channels"),
    Slot("padding_stride", "04", "zero padding, stride 1 vs 2, VALID vs SAME on 7x7"),
    Slot("cnn_layer_by_layer", "04", "the scheme: placeholders and the network layer by layer"),
    Slot("cnn_fully_connected", "04", "the fully connected layer"),
    Slot("cnn_filters_over_time", "04", "filters at an early vs a late step", "run"),
    Slot("cnn_feature_maps_by_depth", "04", "feature maps getting more abstract with depth", "run"),
    Slot("cnn_results", "04", "results and analysis", "run"),
    Slot("dropout_network", "04", "dropout: a network with dropped units"),
    # 05 detection
    Slot("detection_bounding_box", "05", "classification vs detection; the box (x, y, h, w)"),
    Slot("detection_pipeline", "05", "region proposals (R-CNN) and the detector's steps"),
    Slot("detection_anchors", "05", "anchors (Faster R-CNN)"),
    Slot("detection_iou", "05", "IoU"),
    Slot("detection_nms", "05", "NMS before and after"),
    # 06 architectures
    Slot("alexnet_table", "06", "the AlexNet shape table"),
    Slot("vgg_configurations", "06", "the VGG A-E configuration table"),
    Slot("nin_1x1_gap", "06", "NIN: the 1x1 convolution and global average pooling"),
    Slot("nin_cam", "06", "NIN: a class activation map"),
    Slot("inception_module", "06", "the Inception module"),
    Slot("multi_softmax", "06", "the multi-softmax example (GoogLeNet's auxiliary heads)"),
    Slot("conv_factorisation", "06", "convolution factorisation and its receptive field"),
    Slot("resnet_shortcut", "06", "the ResNet shortcut and the bottleneck block"),
    Slot("inception_v4_blocks", "06", "the Inception-v4 and Inception-ResNet blocks"),
    Slot("architectures_compare", "06", "results and analysis: parameters and cost"),
    Slot("papers_results", "06", "the quoted results: Inception v2/v3, ResNet on CIFAR"),
    # 07 RNNs
    Slot("rnn_cell_vanilla", "07", "the RNN cell"),
    Slot("rnn_unrolled_graph", "07", "the RNN unrolled over time"),
    Slot("vanishing_gradients", "07", "vanishing gradients through time"),
    Slot("rnn_cell_lstm", "07", "the LSTM cell"),
    Slot("rnn_gate_activations", "07", "the LSTM's gates at work"),
    Slot("rnn_cell_gru", "07", "the GRU cell"),
    Slot("rnn_loss_curves", "07", "training the chapter's networks", "run"),
    # 08 reinforcement learning
    Slot("rl_agent_environment_loop", "08", "the agent-environment loop"),
    Slot("rl_q_table", "08", "the Q-table", "run"),
    Slot("rl_cartpole_learning", "08", "DQN and the policy gradient learning", "run"),
    # 09 GANs
    Slot("gan_two_networks", "09", "the GAN's two networks"),
    Slot("gan_losses", "09", "the two losses over training", "run"),
    Slot("gan_samples_over_training", "09", "samples improving over training", "run"),
    Slot("gan_quality", "09", "the quality measure", "run"),
)

SLOTS = {slot.name: slot for slot in CATALOGUE}


# the words --chapter takes besides the numbers (the chapters' lesson and notebook names)
CHAPTER_WORDS = {"ml": "01", "ml_basics": "01", "data": "02", "preprocessing": "02",
                 "tensorflow": "03", "tf": "03", "cnn": "04", "detection": "05",
                 "architectures": "06", "rnn": "07", "rl": "08", "gan": "09"}


def chapter_key(text):
    """``'4'``, ``'04'`` or ``'cnn'`` -> ``'04'``; None if no chapter matches
    (the numbers of :data:`CHAPTERS`, the words of :data:`CHAPTER_WORDS`)."""
    text = str(text).strip().lower()
    if text.isdigit():
        key = f"{int(text):02d}"
        return key if key in CHAPTERS else None
    return CHAPTER_WORDS.get(text)


def in_chapter(names, chapter):
    """The catalogued ``names`` of ``chapter`` (a key of :data:`CHAPTERS`); all of
    ``names`` when ``chapter`` is None."""
    return [n for n in names if chapter is None or n in SLOTS and SLOTS[n].chapter == chapter]


def in_slide_order(names):
    """``names`` sorted by their place in :data:`CATALOGUE` (unknown names last, by name)."""
    order = {slot.name: i for i, slot in enumerate(CATALOGUE)}
    return sorted(names, key=lambda n: (order.get(n, len(order)), n))
