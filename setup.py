"""Install tfgraph_lessons: ``pip install -e .`` (add ``[test]`` for the test suite,
``[gpu]`` for NVIDIA GPUs on Linux)."""
from setuptools import find_packages, setup

# Ranges are the ones the test suite has run against: TensorFlow 2.16 is the
# first release with Keras 3 (which is why the library builds everything from
# get_variable and tf.nn), 2.21 the newest tested.
INSTALL_REQUIRES = [
    "tensorflow>=2.16,<2.22",
    "numpy>=1.26,<3",
    "matplotlib>=3.8,<4",
    "jupyter>=1.0",
    "tqdm>=4.66",
    "tensorboard>=2.16,<3",  # the viewer for the event files every lesson writes
    "scikit-learn>=1.4,<2",
    "scipy>=1.11,<2",  # SVHN ships MATLAB .mat files: scipy.io.loadmat reads them
    # the RL chapter's environments (FrozenLake, CartPole...): toy-text and classic-control
    # need no download; classic-control brings pygame, which draws the --render GIFs;
    # Box2D ones (LunarLander) need the optional gymnasium[box2d]
    "gymnasium[classic-control]>=1.0,<2",
]

EXTRAS_REQUIRE = {
    "test": [
        "pytest>=8",
        "nbformat>=5.10",
        "nbclient>=0.10",
        "ipykernel>=6.29",
        # the COCO evaluator itself: the detection chapter's AP is checked against it
        "pycocotools>=2.0.7",
        # drives the system's Chromium (Debian: apt-get install -y chromium) to open the
        # figure gallery; without a Chromium that one test is skipped
        "playwright>=1.40",
    ],
    "gpu": ["tensorflow[and-cuda]>=2.16,<2.22"],
    # benchmarks/run.py's PyTorch arm (without it that arm is reported as skipped). PyPI's
    # Linux wheel brings the CUDA libraries; the CPU build the benchmark ran with is
    # pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
    "bench": ["torch==2.13.0"],
}

setup(
    name="tfgraph_lessons",
    version="0.1.0",
    description=(
        "A deep-learning course in TensorFlow 1 style (graph, placeholder, "
        "get_variable, Session) on a current TensorFlow 2 install"
    ),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["tfgraph_lessons", "tfgraph_lessons.*"]),
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
    entry_points={
        "console_scripts": [
            "tfgraph-figures=tfgraph_lessons.figures.__main__:main",
        ]
    },
)
