"""Loader throughput: how fast the real files become arrays (bytes on disk / seconds, best of 3).

    python benchmarks/bench_loaders.py DATA_DIR [--mnist-dir DIR] [--repeat 3]

DATA_DIR holds ``cifar-10-batches-bin/`` (the official archive extracted, or a
rebuild: ``python ../shared/data/prepare_cifar10.py /tmp/cifar``). The MNIST test
set is read from ``DATA_DIR/mnist`` or ``--mnist-dir`` (default ``../shared/data/mnist``
when it exists). The first of the repeats warms the page cache, so the best time
measures parsing (gunzip, reshape, channel transpose), not the disk.
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tfgraph_lessons.data import datasets  # noqa: E402


def best_time(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def report(name, files, seconds, what):
    size = sum(f.stat().st_size for f in files)
    print(f"{name:<22} {size / 1e6:8.1f} MB on disk  {seconds * 1e3:8.1f} ms  "
          f"{size / 1e6 / seconds:8.1f} MB/s  ({what})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--mnist-dir", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    cifar = args.data_dir / datasets.CIFAR10_DIR
    if (cifar / "test_batch.bin").is_file():
        seconds, ds = best_time(lambda: datasets.load_cifar10(args.data_dir, download=False), args.repeat)
        report("cifar10 (all 60,000)", sorted(cifar.glob("*.bin")), seconds, ds.summary())
    else:
        print(f"skip cifar10: no {cifar}/test_batch.bin")

    mnist = args.mnist_dir or next((d for d in (args.data_dir / "mnist", REPO.parent / "shared" / "data" / "mnist")
                                    if (d / "t10k-images-idx3-ubyte.gz").is_file()), None)
    if mnist is None:
        print("skip mnist: no t10k-images-idx3-ubyte.gz found (use --mnist-dir)")
        return
    with tempfile.TemporaryDirectory() as tmp:       # data dir layout: tmp/mnist -> the folder
        (Path(tmp) / "mnist").symlink_to(mnist.resolve())
        seconds, (images, _) = best_time(
            lambda: datasets.load_split("mnist", "test", data_dir=tmp, download=False), args.repeat)
    files = [mnist / "t10k-images-idx3-ubyte.gz", mnist / "t10k-labels-idx1-ubyte.gz"]
    report("mnist test (gzip)", files, seconds, f"{images.shape[0]:,} images {images.shape[1:]}")
    unpacked = images.size + images.shape[0] + 16 + 8
    print(f"{'':<22} {unpacked / 1e6:8.1f} MB unpacked    {unpacked / 1e6 / seconds:8.1f} MB/s unpacked")


if __name__ == "__main__":
    main()
