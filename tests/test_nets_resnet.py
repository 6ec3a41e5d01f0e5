"""The ResNet family against its papers and reference implementations.

He et al. 2015 (arXiv:1512.03385): Table 1 (ImageNet ResNet-18 ... 152, "FLOPs" =
multiply-adds), Table 6 (CIFAR ResNets); He et al. 2016 (arXiv:1603.05027): the
pre-activation networks. Reference counts: torchvision's ``num_params`` and
``_ops`` (GMACs) of ``resnet18 ... resnet152``; Keras's ``ResNet50/101/152`` and
``ResNet50V2/101V2/152V2`` summaries (total and non-trainable parameters).

Each network is built once, at batch 1, and shared by the tests (a ResNet-152
graph takes seconds to build); multiply-adds are counted from the graph's
Conv2D and MatMul ops.
"""
import numpy as np
import pytest

from conftest import count_madds, count_params

from tfgraph_lessons import nets
from tfgraph_lessons.core.graph import new_graph, tf, tf1
from tfgraph_lessons.nets import resnet, resnet_imagenet  # registers the family

DEPTHS = (18, 34, 50, 101, 152)
IMAGENET = [f"resnet{d}" for d in DEPTHS] + [f"resnet{d}_v2" for d in DEPTHS]

# torchvision resnet*.meta["num_params"]: conv weights (no biases) + BN gamma/beta + fc
TORCHVISION_PARAMS = {18: 11_689_512, 34: 21_797_672, 50: 25_557_032, 101: 44_549_160,
                      152: 60_192_808}
# torchvision resnet*.meta["_ops"], GMACs of its "v1.5" models (stride on the 3x3)
TORCHVISION_GMACS = {18: 1.814, 34: 3.664, 50: 4.089, 101: 7.801, 152: 11.514}
# Table 1 of arXiv:1512.03385, "FLOPs" (multiply-adds), x 10^9
TABLE1_GMACS = {18: 1.8, 34: 3.6, 50: 3.8, 101: 7.6, 152: 11.3}
# Keras applications model.summary(): (total params, non-trainable params)
KERAS_V1 = {50: (25_636_712, 53_120), 101: (44_707_176, 105_344), 152: (60_419_944, 151_424)}
KERAS_V2 = {50: (25_613_800, 45_440), 101: (44_675_560, 97_664), 152: (60_380_648, 143_744)}








class Built:
    """A network built at batch 1 in its own graph, with what the tests read from it."""

    def __init__(self, builder, shape, num_classes, is_training=False, **kwargs):
        with new_graph(seed=0) as graph:
            self.images = tf1.placeholder(tf.float32, [1, *shape], name="images")
            self.logits, self.end_points = builder(self.images, num_classes, is_training,
                                                   **kwargs)
            self.trainable = count_params(tf1.trainable_variables())
            self.all = count_params(tf1.global_variables())
            self.variables = {v.op.name: v.shape.as_list() for v in tf1.global_variables()}
        self.graph, self.builder, self.num_classes = graph, builder, num_classes
        self.madds = count_madds(graph)

    def shape(self, key):
        return self.end_points[key].shape.as_list()


class Counted:
    """A network's whole graph built with a custom getter that records each requested
    variable's shape and hands back a constant in its place: the builder's code runs
    unchanged, in about a third of the time (a pre-activation ResNet-1001 with real
    variables takes about 40 s of CPU to build: 3,000 variables, 51,000 ops; this way
    15 s). For counting parameters, shapes and multiply-adds, not for running."""

    def __init__(self, builder, shape=(32, 32, 3), num_classes=10, **kwargs):
        self.variables, self.trainable_names = {}, set()

        def record(getter, name, shape=None, trainable=True, **unused):
            self.variables[name] = list(shape)
            if trainable:
                self.trainable_names.add(name)
            return tf.zeros(shape, name=name.rsplit("/", 1)[-1])

        with new_graph() as graph:
            images = tf1.placeholder(tf.float32, [1, *shape])
            with tf1.variable_scope("", custom_getter=record):
                _, end_points = builder(images, num_classes, False, wd=None, **kwargs)
            self.shapes = {k: v.shape.as_list() for k, v in end_points.items()}
            self.madds = count_madds(graph)

    def params(self, *, bn=True):
        """Trainable parameters; ``bn=False`` leaves BN's gamma and beta out."""
        return sum(int(np.prod(self.variables[n])) for n in self.trainable_names
                   if bn or "/bn/" not in n)


def projections(variables):
    """The blocks that have a projection shortcut."""
    return sorted({k.split("/shortcut/")[0] for k in variables if "/shortcut/" in k})


@pytest.fixture(scope="module")
def build():
    """``build(name, **kwargs)``: the registered network, built once per arguments."""
    cache = {}

    def get(name, **kwargs):
        key = (name, tuple(sorted(kwargs.items())))
        if key not in cache:
            info = nets.INFO[name]
            cache[key] = Built(nets.NETS[name], info.input_shape, info.num_classes, **kwargs)
        return cache[key]
    yield get
    cache.clear()


def depth_of(name):
    return int(name.split("_")[0][len("resnet"):])


# --------------------------------------------------------------------------- ImageNet


@pytest.mark.parametrize("depth", DEPTHS)
def test_parameters_equal_torchvision(build, depth):
    net = build(f"resnet{depth}")
    assert net.trainable == TORCHVISION_PARAMS[depth]
    assert nets.INFO[f"resnet{depth}"].paper_params == TORCHVISION_PARAMS[depth]


@pytest.mark.parametrize("depth", [50, 101, 152])
def test_all_parameters_match_keras(build, depth):
    """Keras's ResNet puts a bias on every convolution (BN follows each in v1), and on
    conv1, each block's last 1x1 and each projection in v2 (the convolutions that no BN
    follows); its non-trainable parameters are BN's moving means and variances, ours too."""
    total, moving = KERAS_V1[depth]
    v1 = build(f"resnet{depth}")
    assert v1.all - v1.trainable == moving
    assert v1.all + moving // 2 == total           # + one bias per BN channel
    total, moving = KERAS_V2[depth]
    v2 = build(f"resnet{depth}_v2")
    assert v2.all - v2.trainable == moving
    keras_biases = sum(shape[-1] for name, shape in v2.variables.items()
                       if name.endswith(("conv1/conv/weights", "/c/conv/weights",
                                         "/shortcut/conv/weights")))
    assert v2.all + keras_biases == total


@pytest.mark.parametrize("depth", DEPTHS)
def test_multiply_adds_match_table1(build, depth):
    """Table 1 counts the multiply-adds of the convolutions and the fc, printed to
    0.1 billion. Ours: 1.814, 3.664, 3.858, 7.570, 11.282 billion; 18, 101 and 152
    round to the printed figure, 34 and 50 are printed 0.06 lower (3.6, 3.8: the
    paper rounds those down), so we allow one unit of the last printed digit."""
    net = build(f"resnet{depth}")
    assert abs(net.madds / 1e9 - TABLE1_GMACS[depth]) < 0.1
    assert nets.INFO[f"resnet{depth}"].paper_madds == TABLE1_GMACS[depth] * 1e9
    v2 = build(f"resnet{depth}_v2")   # the same convolutions, BN moved in front of them
    assert v2.madds == net.madds


def test_torchvision_v1_5_strides_on_the_3x3(build):
    """torchvision's ResNet-50 (v1.5) strides on the 3x3: the same parameters, 4.089
    GMACs (its ``_ops``) instead of the paper's 3.858; basic blocks have no choice."""
    paper = build("resnet50")
    v1_5 = Counted(nets.NETS["resnet50"], (224, 224, 3), 1000, stride_in="3x3")
    assert v1_5.params() == paper.trainable
    assert round(v1_5.madds / 1e9, 3) == TORCHVISION_GMACS[50]
    assert round(paper.madds / 1e9, 3) == 3.858
    assert round(build("resnet18").madds / 1e9, 3) == TORCHVISION_GMACS[18]
    assert round(build("resnet34").madds / 1e9, 3) == TORCHVISION_GMACS[34]


@pytest.mark.parametrize("name", IMAGENET)
def test_layer_shapes(build, name):
    depth = depth_of(name)
    net = build(name)
    width = 4 if depth >= 50 else 1   # a bottleneck block's output is 4x its width
    assert net.shape("conv1") == [1, 112, 112, 64]
    assert net.shape("pool1") == [1, 56, 56, 64]
    for stage, size, filters in zip(resnet_imagenet.STAGES, (56, 28, 14, 7), (64, 128, 256, 512)):
        assert net.shape(resnet_imagenet.last_block(stage, depth)) == [1, size, size,
                                                                         filters * width]
    assert net.shape("global_pool") == [1, 512 * width]
    assert net.shape("logits") == [1, 1000] and net.shape("predictions") == [1, 1000]
    keys = list(net.end_points)
    assert keys[:3] == ["conv1", "pool1", "conv2_x/block1"]
    assert keys[-3:] == ["global_pool", "logits", "predictions"]
    assert ("postnorm" in keys) == name.endswith("_v2")
    blocks = [k for k in keys if "/block" in k]
    assert len(blocks) == sum(resnet_imagenet.BLOCKS[depth][1])
    # every key with parameters is a variable scope below the network's
    for key in keys:
        if key not in ("pool1", "global_pool", "predictions"):
            assert any(v.startswith(f"{name}/{key}/") for v in net.variables), key


def test_resnet50_stages_are_the_papers(build):
    """Table 1: conv2_x 56x56x256, conv3_x 28x28x512, conv4_x 14x14x1024, conv5_x 7x7x2048."""
    net = build("resnet50")
    assert [net.shape(f"{stage}/block{n}") for stage, n in
            zip(resnet_imagenet.STAGES, (3, 4, 6, 3))] == [
        [1, 56, 56, 256], [1, 28, 28, 512], [1, 14, 14, 1024], [1, 7, 7, 2048]]
    # a bottleneck block: 1x1 reduce (stride here in the paper), 3x3, 1x1 expand
    assert net.variables["resnet50/conv3_x/block1/a/conv/weights"] == [1, 1, 256, 128]
    assert net.variables["resnet50/conv3_x/block1/b/conv/weights"] == [3, 3, 128, 128]
    assert net.variables["resnet50/conv3_x/block1/c/conv/weights"] == [1, 1, 128, 512]
    assert net.variables["resnet50/conv3_x/block1/shortcut/conv/weights"] == [1, 1, 256, 512]
    assert "resnet50/conv3_x/block2/shortcut/conv/weights" not in net.variables
    strides = {op.name: op.get_attr("strides")[1] for op in net.graph.get_operations()
               if op.type == "Conv2D" and "conv3_x/block1/" in op.name}
    assert strides["resnet50/conv3_x/block1/a/conv/Conv2D"] == 2
    assert strides["resnet50/conv3_x/block1/b/conv/Conv2D"] == 1


def test_shortcut_options(build):
    """Option A adds no parameters, B projects only where the shape changes (3 blocks
    of ResNet-18), C projects on every block (8) and costs the most."""
    a, c = (Counted(nets.NETS["resnet18"], (224, 224, 3), 1000, shortcut=s) for s in "AC")
    b = build("resnet18")
    assert projections(a.variables) == []
    assert projections(b.variables) == [f"resnet18/{s}/block1"
                                        for s in ("conv3_x", "conv4_x", "conv5_x")]
    assert len(projections(c.variables)) == 8
    # B's projections: 1x1 weights + BN gamma/beta, 64->128, 128->256, 256->512
    assert b.trainable - a.params() == sum(i * o + 2 * o for i, o in
                                           ((64, 128), (128, 256), (256, 512)))
    assert a.params() < b.trainable < c.params()
    assert a.madds < b.madds < c.madds
    assert a.shapes["logits"] == c.shapes["logits"] == [1, 1000]


def test_zero_padded_and_projected_bottleneck_shortcuts():
    """Bottleneck blocks with option A (64 -> 256 channels at stride 1: 192 zero
    channels) and a pre-activation network with option C."""
    a = Counted(resnet.resnet_cifar, n=1, bottleneck=True, shortcut_option="A")
    c = Counted(resnet.resnet_cifar, n=2, bottleneck=True, preact=True, shortcut_option="C")
    assert projections(a.variables) == []
    assert a.shapes["stage1"] == [1, 32, 32, 64] and a.shapes["stage3"] == [1, 8, 8, 256]
    assert c.shapes["stage3"] == [1, 8, 8, 256]
    # a v2 projection has no BN of its own: one weight tensor in each of the 6 blocks
    shortcuts = [k for k in c.variables if "/shortcut/" in k]
    assert len(shortcuts) == 6 and all(k.endswith("/shortcut/conv/weights") for k in shortcuts)


def _conv_inputs(net):
    """(conv op name, type of the op feeding it, name of that op's input op)."""
    rows = []
    for op in net.graph.get_operations():
        if op.type == "Conv2D":
            feed = op.inputs[0].op
            rows.append((op.name, feed.type, feed.inputs[0].op.name if feed.inputs else ""))
    return rows


def test_v2_has_bn_relu_before_every_convolution_but_conv1(build):
    v2 = build("resnet50_v2")
    rows = _conv_inputs(v2)
    assert len(rows) == 1 + 16 * 3 + 4
    for name, feed, feed_input in rows:
        if name == "resnet50_v2/conv1/conv/Conv2D":
            assert feed == "Placeholder"
            continue
        layer = name.split("/conv/Conv2D")[0]
        assert feed == "Relu", name
        if "/shortcut" in layer:   # the projection reads the block's first pre-activation
            layer = layer.replace("/shortcut", "/a")
        assert feed_input == f"{layer}/bn/output", name
    assert v2.shape("postnorm") == [1, 7, 7, 2048]


def test_v1_has_bn_after_every_convolution(build):
    v1 = build("resnet50")
    rows = _conv_inputs(v1)
    assert len(rows) == 1 + 16 * 3 + 4
    for name, feed, _ in rows:
        layer = name.split("/conv/Conv2D")[0]
        output = v1.graph.get_operation_by_name(f"{layer}/conv/output").outputs[0]
        assert {op.name.split("/bn/")[0] for op in output.consumers()} == {layer}, name
        assert feed != "Relu" or not v1.graph.get_operation_by_name(
            f"{layer}/conv/Conv2D").inputs[0].op.name.startswith(layer), name
    assert "postnorm" not in v1.end_points


@pytest.mark.parametrize("name", IMAGENET)
def test_forward_pass_at_batch_1(build, name):
    net = build(name)
    x = np.random.default_rng(0).normal(size=(1, 224, 224, 3)).astype(np.float32)
    with net.graph.as_default(), tf1.Session() as sess:
        sess.run(tf1.global_variables_initializer())
        logits, probs = sess.run([net.logits, net.end_points["predictions"]], {net.images: x})
    assert logits.shape == (1, 1000) and np.isfinite(logits).all()
    assert abs(probs.sum() - 1.0) < 1e-4


# The ten ImageNet networks are one builder and two block functions: ResNet-101 and 152
# differ from ResNet-50 only in blocks per stage, ResNet-34 from ResNet-18 likewise.
@pytest.mark.parametrize("name", ["resnet18", "resnet50", "resnet18_v2", "resnet50_v2"])
def test_reuse_creates_no_new_variables(build, name):
    net = build(name)
    with net.graph.as_default():
        before = len(tf1.global_variables())
        with tf1.variable_scope(tf1.get_variable_scope(), reuse=True):
            logits, _ = net.builder(net.images, net.num_classes, False)
        assert len(tf1.global_variables()) == before
    assert logits.shape.as_list() == net.logits.shape.as_list()


def test_is_training_follows_batch_norm_and_there_is_no_dropout(build):
    """ResNets have no dropout; ``is_training=False`` uses BN's moving averages
    (no update ops), True updates them; nothing random but the initialisers."""
    infer = [build("resnet18"), build("resnet18_v2")]
    train = Built(nets.NETS["resnet18_v2"], (224, 224, 3), 1000, is_training=True)
    kinds = lambda net: {op.type for op in net.graph.get_operations()}
    assert all("AssignSubVariableOp" not in kinds(net) for net in infer)
    assert "AssignSubVariableOp" in kinds(train)
    for net in infer + [train]:
        assert not [op for op in net.graph.get_operations() if "dropout" in op.name.lower()]
        assert not kinds(net) & {"RandomUniform", "RandomStandardNormal"}
    assert train.trainable == infer[1].trainable


# --------------------------------------------------------------------------- CIFAR


# Table 6 of arXiv:1512.03385 and arXiv:1603.05027 (1.7M, 1.7M, 1.7M, 10.2M), counted
# as the papers do: convolution and fc weights, BN's gamma and beta left out (with
# them ResNet-1001 has 10,327,706 parameters, which would print 10.3M).
CIFAR_PARAMS = [("resnet20", "0.27"), ("resnet32", "0.46"), ("resnet44", "0.66"),
                ("resnet56", "0.85"), ("resnet110", "1.7"), ("resnet164", "1.7"),
                ("preact_resnet110", "1.7"), ("preact_resnet164", "1.7")]


@pytest.mark.parametrize("name,millions", CIFAR_PARAMS)
def test_cifar_parameter_counts_match_the_papers(name, millions):
    net = Counted(nets.NETS[name])
    digits = len(millions.split(".")[1])
    assert round(net.params(bn=False) / 1e6, digits) == float(millions)
    assert nets.INFO[name].paper_params == float(millions) * 1e6
    assert nets.INFO[name].cifar and nets.INFO[name].family == "resnet"
    width = 4 if "164" in name else 1
    for s, (size, filters) in enumerate(zip((32, 16, 8), (16, 32, 64))):
        assert net.shapes[f"stage{s + 1}"] == [1, size, size, filters * width]
    assert net.shapes["logits"] == [1, 10]
    assert ("postnorm" in net.shapes) == name.startswith("preact")


def test_preact_resnet1001():
    """Built once (with :class:`Counted`), counted, not run."""
    net = Counted(nets.NETS["preact_resnet1001"])
    weights = net.params(bn=False)
    assert round(weights / 1e6, 1) == 10.2 == nets.INFO["preact_resnet1001"].paper_params / 1e6
    assert weights == 10_178_490
    assert net.params() == 10_327_706
    assert net.shapes["stage1"] == [1, 32, 32, 64] and net.shapes["stage3"] == [1, 8, 8, 256]
    assert net.shapes["postnorm"] == [1, 8, 8, 256] and net.shapes["logits"] == [1, 10]
    convs = [n for n in net.variables if n.endswith("/conv/weights")]
    assert len(convs) == 1 + 3 * 111 * 3 + 3   # conv1, 333 blocks of 3, 3 projections


@pytest.mark.parametrize("bottleneck,preact", [(True, False), (False, True), (True, True)])
def test_cifar_blocks_run_and_share_variables(bottleneck, preact):
    """The blocks of ResNet-164, pre-activation ResNet-110/164/1001 (two per stage
    here: the registered networks only stack more of them): a forward pass, and a
    second copy under reuse makes no new variables."""
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype(np.float32)
    with new_graph(seed=0):
        images = tf1.placeholder(tf.float32, [None, 32, 32, 3])
        logits, ep = resnet.resnet_cifar(images, 10, False, n=2, bottleneck=bottleneck,
                                         preact=preact)
        before = len(tf1.global_variables())
        with tf1.variable_scope(tf1.get_variable_scope(), reuse=True):
            resnet.resnet_cifar(images, 10, False, n=2, bottleneck=bottleneck, preact=preact)
        assert len(tf1.global_variables()) == before
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            out = sess.run(logits, {images: x})
    assert out.shape == (2, 10) and np.isfinite(out).all()
    assert ep["stage3"].shape.as_list() == [None, 8, 8, 256 if bottleneck else 64]


# --------------------------------------------------------------------------- bad input


def test_a_depth_not_in_the_family_is_refused():
    with new_graph():
        images = tf1.placeholder(tf.float32, [1, 224, 224, 3])
        with pytest.raises(ValueError, match=r"\[resnet\] ResNet depth must be one of "
                                             r"18, 34, 50, 101, 152.*got 42"):
            resnet_imagenet.resnet_imagenet(images, 1000, False, depth=42)
        with pytest.raises(ValueError, match=r"shortcut must be one of A, B, C, got 'D'"):
            resnet_imagenet.resnet50(images, 1000, False, shortcut="D")
        with pytest.raises(ValueError, match=r"stride_in must be one of 1x1, 3x3"):
            resnet_imagenet.resnet50(images, 1000, False, stride_in="2x2")
        small = tf1.placeholder(tf.float32, [1, 32, 32, 3])
        with pytest.raises(ValueError, match=r"6n \+ 2 \(20, 32, 44, 56, 110, \.\.\.\), got 21"):
            resnet.resnet_cifar(small, 10, False, depth=21)
        with pytest.raises(ValueError, match=r"9n \+ 2 \(164, 1001, \.\.\.\), got 111"):
            resnet.resnet_cifar(small, 10, False, depth=111, bottleneck=True)
        for n in (0, -3, 2.5, True):
            with pytest.raises(ValueError, match=r"n \(blocks per stage\) must be a whole"):
                resnet.resnet_cifar(small, 10, False, n=n)
        with pytest.raises(ValueError, match="n or depth, not both"):
            resnet.resnet_cifar(small, 10, False, n=3, depth=20)
        assert not tf1.global_variables()   # every check fires before a variable is made


def test_depth_gives_blocks_per_stage():
    assert resnet.blocks_per_stage(depth=20) == 3 and resnet.blocks_per_stage(depth=110) == 18
    assert resnet.blocks_per_stage(depth=164, bottleneck=True) == 18
    assert resnet.blocks_per_stage(depth=1001, bottleneck=True) == 111
    assert resnet.blocks_per_stage() == 3 and resnet.blocks_per_stage(n=9) == 9
    by_depth = Counted(resnet.resnet_cifar, depth=20)
    assert by_depth.variables == Counted(nets.NETS["resnet20"], scope="resnet").variables


@pytest.mark.parametrize("shape,what", [((1, 16, 16, 3), "at least 32x32"),
                                        ((1, 224, 224), "needs images"),
                                        ((1, 224, 224, None), "needs images")])
def test_imagenet_input_that_does_not_fit(shape, what):
    with new_graph():
        images = tf1.placeholder(tf.float32, shape)
        with pytest.raises(ValueError, match=rf"\[resnet50\] .*{what}.*got shape"):
            resnet_imagenet.resnet50(images, 1000, False)


def test_registry_lists_the_family():
    imagenet = [n for n in IMAGENET if not nets.INFO[n].cifar]
    assert imagenet == IMAGENET
    for name in IMAGENET:
        info = nets.INFO[name]
        assert (info.family, info.input_shape, info.num_classes) == ("resnet", (224, 224, 3), 1000)
    for name in ("resnet164", "preact_resnet110", "preact_resnet164", "preact_resnet1001"):
        assert nets.INFO[name].cifar and nets.INFO[name].paper_source
