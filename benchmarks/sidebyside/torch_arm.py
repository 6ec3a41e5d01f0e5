"""The PyTorch arm (CPU): the same networks as ``nn.Module`` s, in a plain training loop.

Same layers, initialisers, optimiser and weight decay as the lesson's graphs (see
:mod:`sidebyside.keras_arm` for the list). Weight decay goes through SGD's
``weight_decay`` on the kernels only (biases and batch norm are not decayed, as
in the lesson), which adds ``wd * w`` to the gradient: the gradient of the
lesson's ``wd * l2_loss(w)``. The LSTM's second bias (``bias_hh``, which
PyTorch adds to ``bias_ih``) is frozen at zero, so it has the lesson's
parameters and the same work.

The images live in one uint8 tensor in PyTorch's channels-first layout, shuffled
each epoch; each batch is augmented as a whole in PyTorch (per image: a crop of
the zero-padded image at a random offset and a random flip, gathered in one
indexing op; the LSTM's affine warp with ``affine_grid`` and ``grid_sample``),
then standardised, all in the timed loop. No ``DataLoader`` workers: on two
cores they would take the cores the step needs. Each step reads back the loss
and the accuracy, as the lesson's ``Trainer`` and Keras's ``fit`` do.
"""
import math

import numpy as np

from sidebyside.child import StepClock, timed


def _modules(torch, net):
    nn, F = torch.nn, torch.nn.functional

    def trunc_normal_(w, std):
        return nn.init.trunc_normal_(w, std=std, a=-2 * std, b=2 * std)

    class SlideCNN(nn.Module):
        def __init__(self, channels, size, num_classes, keep_prob):
            super().__init__()
            self.conv1 = nn.Conv2d(channels, 28, 7, padding=3)
            self.conv2 = nn.Conv2d(28, 64, 5, padding=2)
            flat = math.ceil(size[0] / 4) * math.ceil(size[1] / 4) * 64
            self.fc1, self.fc2 = nn.Linear(flat, 1024), nn.Linear(1024, num_classes)
            self.drop = nn.Dropout(1 - keep_prob) if keep_prob < 1 else nn.Identity()
            for layer, std in ((self.conv1, 0.1), (self.conv2, math.sqrt(2 / (25 * 28))),
                               (self.fc1, math.sqrt(2 / flat)), (self.fc2, 1 / math.sqrt(1024))):
                trunc_normal_(layer.weight, std)
                nn.init.constant_(layer.bias, 0.1)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), 2, ceil_mode=True)
            x = F.max_pool2d(F.relu(self.conv2(x)), 2, ceil_mode=True)
            x = self.drop(F.relu(self.fc1(torch.flatten(x, 1))))
            return self.fc2(x)

    def conv_bn(c_in, c_out, stride):
        conv = nn.Conv2d(c_in, c_out, 3, stride, padding=1, bias=False)
        trunc_normal_(conv.weight, math.sqrt(2 / (9 * c_in)))
        return nn.Sequential(conv, nn.BatchNorm2d(c_out, eps=1e-3, momentum=0.1))

    class Block(nn.Module):
        """Two 3x3 conv-BN layers plus the option-A shortcut, then ReLU."""

        def __init__(self, c_in, c_out, stride):
            super().__init__()
            self.a, self.b = conv_bn(c_in, c_out, stride), conv_bn(c_out, c_out, 1)
            self.stride, self.extra = stride, c_out - c_in

        def forward(self, x):
            y = self.b(F.relu(self.a(x)))
            if self.stride != 1:
                x = x[:, :, ::self.stride, ::self.stride]
            if self.extra:  # zero channels on both sides, as the lesson pads them
                x = F.pad(x, (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))
            return F.relu(y + x)

    class ResNet20(nn.Module):
        def __init__(self, channels, num_classes, n=3):
            super().__init__()
            layers, c_in = [conv_bn(channels, 16, 1), nn.ReLU()], 16
            for s, width in enumerate((16, 32, 64)):
                for b in range(n):
                    layers.append(Block(c_in, width, 2 if (s > 0 and b == 0) else 1))
                    c_in = width
            self.body = nn.Sequential(*layers)
            self.fc = nn.Linear(c_in, num_classes)
            trunc_normal_(self.fc.weight, 1 / math.sqrt(c_in))
            nn.init.zeros_(self.fc.bias)

        def forward(self, x):
            return self.fc(self.body(x).mean(dim=(2, 3)))

    class LSTMNet(nn.Module):
        def __init__(self, features, units, num_classes):
            super().__init__()
            self.lstm = nn.LSTM(features, units, batch_first=True)
            self.fc = nn.Linear(units, num_classes)
            nn.init.xavier_uniform_(self.lstm.weight_ih_l0)
            nn.init.orthogonal_(self.lstm.weight_hh_l0)
            nn.init.zeros_(self.lstm.bias_ih_l0)
            with torch.no_grad():
                self.lstm.bias_ih_l0[units:2 * units] = 1.0   # gate order i, f, g, o
            nn.init.zeros_(self.lstm.bias_hh_l0)
            self.lstm.bias_hh_l0.requires_grad_(False)
            nn.init.xavier_uniform_(self.fc.weight)
            nn.init.zeros_(self.fc.bias)

        def forward(self, x):
            out, _ = self.lstm(x)              # [b, T, units]
            return self.fc(out[:, -1])

    s, shape = net["settings"], net["input_shape"]
    if net["name"] == "slide_cnn":
        keep = s["keep_prob"] if s["dropout"] else 1.0
        return SlideCNN(shape[2], shape[:2], net["num_classes"], keep)
    if net["name"] == "resnet20":
        return ResNet20(shape[2], net["num_classes"])
    return LSTMNet(shape[1], s["units"], net["num_classes"])


def optimizer(torch, model, net, total_steps):
    """``(optimizer, scheduler)``: the lesson's, over ``total_steps``."""
    s = net["settings"]
    params = [p for p in model.parameters() if p.requires_grad]
    if net["kind"] == "rnn":
        opt = torch.optim.Adam(params, lr=s["lr"])
        floor, total = s["lr_floor"], max(1, total_steps)
        return opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda step: (
            floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(step, total) / total))))
    kernels = [p for p in params if p.ndim > 1]
    others = [p for p in params if p.ndim <= 1]
    groups = [{"params": kernels, "weight_decay": s["weight_decay"]},
              {"params": others, "weight_decay": 0.0}]
    if s["optimizer"] == "adam":
        opt = torch.optim.Adam(groups, lr=s["lr"])
    else:
        opt = torch.optim.SGD(groups, lr=s["lr"], momentum=s["momentum"],
                              nesterov=s["optimizer"] == "nesterov")
    milestones = sorted({max(1, int(f * total_steps)) for f in s["lr_drops"]})
    return opt, torch.optim.lr_scheduler.MultiStepLR(opt, milestones, 0.1)


def crop_flip(torch, x, pad, flip, gen):
    """Per image of ``x [n, c, h, w]``: the ``h x w`` window at a random offset of the image
    zero-padded by ``pad``, mirrored with probability 1/2 when ``flip``."""
    n, c, h, w = x.shape
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    oy = torch.randint(0, 2 * pad + 1, (n, 1), generator=gen)
    ox = torch.randint(0, 2 * pad + 1, (n, 1), generator=gen)
    rows, cols = oy + torch.arange(h), ox + torch.arange(w)         # [n, h], [n, w]
    if flip:
        cols = torch.where(torch.rand(n, 1, generator=gen) < 0.5, cols.flip(1), cols)
    return padded[torch.arange(n)[:, None, None, None], torch.arange(c)[None, :, None, None],
                  rows[:, None, :, None], cols[:, None, None, :]]


def distort(torch, x, rotation, scale, shift, gen):
    """Random turns, zooms and shifts of float ``x [n, T, F]`` (0..255), the draws of
    ``keras_arm.distort``, then :func:`warp` ed."""
    n = x.shape[0]
    u = lambda lo, hi: lo + (hi - lo) * torch.rand(n, generator=gen)  # noqa: E731
    angle, zoom = u(-rotation, rotation) * (math.pi / 180), u(1 - scale, 1 + scale)
    return warp(torch, x, angle, zoom, u(-shift, shift), u(-shift, shift))


def warp(torch, x, angle, zoom, dy, dx):
    """``keras_arm.warp`` with ``affine_grid`` and ``grid_sample``: float ``x [n, H, W]``."""
    F = torch.nn.functional
    n, h, w = x.shape
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    cy, cx = (h - 1) / 2, (w - 1) / 2
    # align_corners=True: normalised u = (x - cx) / cx; the map output -> input position
    theta = torch.stack([
        torch.stack([cos, sin * cy / cx, -(cos * dx + sin * dy) / cx], 1),
        torch.stack([-sin * cx / cy, cos, (sin * dx - cos * dy) / cy], 1)], 1)
    grid = F.affine_grid(theta.float(), (n, 1, h, w), align_corners=True)
    out = F.grid_sample(x[:, None].float(), grid, mode="bilinear", padding_mode="zeros",
                        align_corners=True)[:, 0]
    return out.round().clamp(0, 255)


def measure(spec, data):
    import torch

    threads, batch = spec["threads"], spec["batch_size"]
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(threads)
    torch.manual_seed(spec["seed"])
    gen = torch.Generator().manual_seed(spec["seed"])
    net, warmup, steps = spec["network"], spec["warmup_steps"], spec["steps"]
    s = net["settings"]
    cnn = net["kind"] == "cnn"
    model = _modules(torch, net)
    opt, schedule = optimizer(torch, model, net, warmup + steps)
    loss_fn = torch.nn.CrossEntropyLoss()

    def tensor(images):  # images [N, H, W, C] -> [N, C, H, W]; sequences stay [N, T, F]
        return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2) if cnn
                                                     else images))

    if cnn:
        mean = torch.tensor(net["mean"], dtype=torch.float32)[None, :, None, None]
        std = torch.tensor(net["std"], dtype=torch.float32)[None, :, None, None]
        prepare = lambda x: (x.float() - mean) / std                 # noqa: E731
    else:
        prepare = lambda x: x.float() / 255.0                        # noqa: E731

    def augment(x):
        if cnn:
            return crop_flip(torch, x, net["augment"]["pad"], net["augment"]["flip"], gen) \
                if s["augment"] else x
        return distort(torch, x.float(), s["rotation"], s["scale"], net["augment"]["shift"], gen)

    images, labels = tensor(data["train_images"]), torch.from_numpy(
        data["train_labels"].astype(np.int64))
    clock = StepClock(warmup, steps)
    per_epoch = len(images) // batch
    model.train()
    order = None
    for step in range(warmup + steps):
        if step % per_epoch == 0:
            order = torch.randperm(len(images), generator=gen)
        idx = order[(step % per_epoch) * batch:(step % per_epoch + 1) * batch]
        x, y = prepare(augment(images[idx])), labels[idx]
        logits = model(x)
        loss = loss_fn(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if not cnn:
            torch.nn.utils.clip_grad_norm_(model.parameters(), s["clip_norm"])
        opt.step()
        schedule.step()
        _ = loss.item(), (logits.argmax(1) == y).float().mean().item()  # read back each step
        clock.step_done(step + 1)

    test_x, test_y = tensor(data["test_images"]), torch.from_numpy(
        data["test_labels"].astype(np.int64))
    n = spec["eval_batches"] * batch

    def evaluate(count):
        model.eval()
        total_loss = correct = 0.0
        with torch.inference_mode():
            for start in range(0, count, batch):
                x, y = prepare(test_x[start:start + batch]), test_y[start:start + batch]
                logits = model(x)
                total_loss += loss_fn(logits, y).item() * len(y)
                correct += (logits.argmax(1) == y).sum().item()
        return total_loss / count, correct / count

    evaluate(batch)                                                   # warm-up
    seconds, _ = timed(lambda: evaluate(n))
    return {"train_images_per_second": clock.images_per_second(batch),
            "eval_images_per_second": n / seconds,
            "params": sum(p.numel() for p in model.parameters() if p.requires_grad),
            "torch_threads": torch.get_num_threads()}
