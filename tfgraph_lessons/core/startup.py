"""A quick, quiet start: TensorFlow's settings and its start-up lines, before TensorFlow loads.

``tfgraph_lessons/__init__.py`` calls :func:`install` before anything imports
TensorFlow, so this module must not import it (nor anything that does). It does
two things.

**Environment defaults**, each only where the user has not set the variable:

* ``TF_ENABLE_ONEDNN_OPTS=1``: TensorFlow's oneDNN kernels. TensorFlow switches
  them on by itself only on some Intel CPUs; on the AMD EPYC (AVX2) machine this
  course was measured on, they roughly double CPU training speed: the CNN
  lesson's train step at batch 128 runs at about 800 images/s with them, 410
  without. Set on x86-64 only (where that was measured). ``TF_ENABLE_ONEDNN_OPTS=0``
  turns them off, for example to compare sums bit for bit with a machine
  without them (they change the order of floating-point additions).
* ``TF_CPP_MIN_LOG_LEVEL=1``: TensorFlow's C++ INFO lines (``Created device ...``,
  the profiler's ``Profiler session started``) are left out, while its WARNING
  and ERROR lines still reach the user; 2 would drop the warnings too. With
  ``--verbose`` it is left alone.

**The native start-up lines.** TensorFlow's C++ libraries write to file
descriptor 2 while they load, before absl's logging is set up, so
``TF_CPP_MIN_LOG_LEVEL`` cannot hide them. On a machine without a GPU every
command would begin with::

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 00:00:... port.cc:153] oneDNN custom operations are on. You may see slightly ...
    I0000 00:00:... cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.
    I0000 00:00:... cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use ...
    To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow ...
    E0000 00:00:... cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: ...

(the first three twice). :func:`install`
puts a finder on ``sys.meta_path`` (:class:`QuietImportFinder`) that wraps the
first import of the top-level ``tensorflow`` module, whoever asks for it: while
that import runs, and while TensorFlow lists its devices right after it (that
is where the cuInit line comes from; it costs about a millisecond on a machine
without a GPU), file descriptor 2 points at a temporary file
(:func:`captured_stderr`). Then descriptor 2 is restored and every captured
line that is not one of :data:`NOISE` is written back, in order: a real error,
a Python warning, anything new stays visible. The cuInit line is noise only
when the CUDA driver is missing (the ``cudart_stub`` line said so in the same
capture); with a driver present a cuInit failure is a real error and shows. If
the import raises, everything captured is written back unfiltered before the
exception goes on. Only a process killed outright during the import (a fatal
signal) loses what was captured; run it again with ``--verbose`` to see it.

**Help without TensorFlow.** When a package command is asked only for its help
or its catalogue (``-h``, ``--help`` or ``--list`` among its arguments,
:func:`help_requested`), ``import tensorflow`` is *deferred*: the statement
succeeds at once and binds a :class:`DeferredModule`, and TensorFlow really
loads (quietly, as above) the first time anything reads one of its attributes
(``tf.nn``, ``tf.compat`` ...). Argparse prints the help and exits before that
happens, so ``python -m tfgraph_lessons.cnn_cifar --help`` answers in well
under a second instead of the 5-9 s of TensorFlow's import. Should the command
go on after all, the first use loads TensorFlow and everything behaves as
usual; code that must run right after the load (``core.graph``'s switch to
graph mode) registers with :func:`when_loaded`. For this to hold, the package
reads no TensorFlow attribute while its modules are imported: no ``tf.``
default arguments or module-level ``tf.`` constants (``tests/test_startup.py``
imports every module with a TensorFlow that cannot load).

**Turning it off.** ``--verbose`` on a ``tfgraph_lessons`` command line
(``python -m tfgraph_lessons.<lesson> ... --verbose``, ``tfgraph-figures
--verbose``) or ``TFGRAPH_VERBOSE=1`` in the environment lets every line
through. The flag is read from ``sys.argv`` when the package is imported,
before argparse runs (:func:`verbose_requested`), and only when the process is
one of the package's commands: ``pytest --verbose`` or another program's flag
does not count. A ``--verbose`` command passes ``TFGRAPH_VERBOSE=1`` on to the
processes it starts (the ``distributed`` lesson's tasks).
"""
import contextlib
import importlib.abc
import importlib.util
import os
import platform
import re
import sys
import tempfile
import threading
import types

VERBOSE_ENV = "TFGRAPH_VERBOSE"
VERBOSE_FLAG = "--verbose"
SCRIPTS = ("tfgraph-figures",)   # setup.py's console scripts
HELP_FLAGS = ("-h", "--help", "--list")  # a command asked only for its help or catalogue
PACKAGE = "tfgraph_lessons"

# absl's line prefix: severity, month and day, time, thread id (TensorFlow 2.21 writes
# "I0000 00:00:1796058509.085728   11893 " before absl is initialised)
_LOG = rb"[IWEF]\d{4} [\d:.]+ +\d+ "

# TensorFlow 2.21's start-up lines on a machine without a GPU, one pattern per line
NOISE = tuple(re.compile(p) for p in (
    rb"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$",
    _LOG + rb"port\.cc:\d+\] oneDNN custom operations are on\. ",
    _LOG + rb"cudart_stub\.cc:\d+\] Could not find cuda drivers on your machine, GPU will not be used\.$",
    _LOG + rb"cpu_feature_guard\.cc:\d+\] This TensorFlow binary is optimized to use available CPU "
           rb"instructions in performance-critical operations\.$",
    rb"To enable the following instructions: .*, in other operations, rebuild TensorFlow with the "
    rb"appropriate compiler flags\.$",
    # a traced Session.run (core.device.traced_run) on a machine without a GPU
    _LOG + rb"xplane_to_step_stats\.cc:\d+\] GPU trace was not collected\.$",
))
NO_DRIVER = NOISE[2]
# noise only where NO_DRIVER says the driver is missing (then no GPU can be used anyway)
CUINIT = re.compile(_LOG + rb"cuda_platform\.cc:\d+\] failed call to cuInit: ")


def env_flag(name):
    """True when the environment variable ``name`` is ``1``, ``true``, ``yes`` or ``on``."""
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def command_arguments():
    """The arguments of this process when it is a ``tfgraph_lessons`` command, else None.

    Read while the package is first imported: for ``python -m tfgraph_lessons.X``
    Python has then set ``sys.argv`` to ``['-m', <the command's arguments>]`` and
    keeps the module's name in ``sys.orig_argv``; a console script
    (``tfgraph-figures``) has its own path in ``sys.argv[0]``.
    """
    argv = sys.argv or [""]
    if argv[0] == "-m":
        orig = getattr(sys, "orig_argv", [])
        for i, arg in enumerate(orig[1:], 1):
            if arg.startswith("-m"):  # '-m NAME' or '-mNAME'
                module = arg[2:] or (orig[i + 1] if i + 1 < len(orig) else "")
                if module == PACKAGE or module.startswith(PACKAGE + "."):
                    return argv[1:]
                return None
        return None
    name = os.path.basename(argv[0])
    return argv[1:] if os.path.splitext(name)[0] in SCRIPTS else None


def verbose_requested():
    """``TFGRAPH_VERBOSE=1``, or ``--verbose`` among a package command's arguments
    (before a ``--`` that ends the options)."""
    if env_flag(VERBOSE_ENV):
        return True
    return VERBOSE_FLAG in _options(command_arguments())


def _options(args):
    """A command's arguments up to a ``--`` that ends the options."""
    args = list(args or [])
    return args[:args.index("--")] if "--" in args else args


def help_requested():
    """``-h``, ``--help`` or ``--list`` among a package command's options: the
    command prints text and exits, so TensorFlow can wait (:class:`DeferredModule`)."""
    return any(arg in HELP_FLAGS for arg in _options(command_arguments()))


def filter_noise(captured):
    """``captured`` bytes without the :data:`NOISE` lines (and without the cuInit
    line when the CUDA driver is missing); every other byte kept, in order."""
    lines = captured.splitlines(keepends=True)
    no_driver = any(NO_DRIVER.match(line) for line in lines)
    return b"".join(line for line in lines
                    if not any(p.match(line) for p in NOISE)
                    and not (no_driver and CUINIT.match(line)))


def _write_all(fd, data):
    while data:
        data = data[os.write(fd, data):]


@contextlib.contextmanager
def captured_stderr(keep=filter_noise):
    """Point file descriptor 2 at a temporary file for the block, then write back ``keep(text)``.

    Catches what C and C++ code writes to descriptor 2 (``sys.stderr`` is flushed
    before and after, so Python's own writes are caught too, in order). If the
    block raises, everything captured is written back unfiltered. Without a
    descriptor 2 to redirect (a process started with it closed) the block runs
    uncaptured.
    """
    if sys.stderr is not None:
        sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        keep_all = True
        try:
            yield
            keep_all = False
        finally:
            if sys.stderr is not None:
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            captured = sink.read()
            _write_all(2, captured if keep_all else keep(captured))


_after_load = []          # functions to call once TensorFlow has loaded (when_loaded)
_load_lock = threading.RLock()


def when_loaded(function):
    """Call ``function()`` now if TensorFlow is loaded, else right after it loads
    (it may be deferred, :class:`DeferredModule`). Each function is called once."""
    with _load_lock:
        tf = sys.modules.get("tensorflow")
        if tf is None or isinstance(tf, DeferredModule):
            _after_load.append(function)
            return
    function()


def _loaded():
    """Run (and forget) what :func:`when_loaded` queued."""
    while _after_load:
        _after_load.pop(0)()


class DeferredModule(types.ModuleType):
    """The ``tensorflow`` module, imported but not yet executed.

    The import system fills in ``__name__``, ``__spec__``, ``__file__`` and the
    like, which answer as usual; the first attribute the module lacks
    (``tf.compat``, ``tf.nn``, or ``__path__`` for ``import tensorflow.x``) runs
    TensorFlow's real import into this same object, so every name already bound
    to it (``import tensorflow as tf`` in a dozen modules) is the real module from
    then on, and then answers. Its package path is held back until then, so a
    submodule cannot be imported before the package itself.
    """

    def __getattr__(self, name):
        state = self.__dict__.get("_deferred")
        if state is None:  # loaded (by another thread meanwhile) or failed: the plain answer
            return types.ModuleType.__getattribute__(self, name)
        with _load_lock:
            if self.__dict__.get("_deferred") is state:
                loader, path = state
                del self._deferred
                if path is not None:
                    self.__path__ = path
                self.__class__ = types.ModuleType
                try:
                    loader.exec_module(self)  # a QuietLoader: quiet, then when_loaded's calls
                except BaseException:
                    sys.modules.pop(self.__name__, None)  # the next import tries again
                    raise
        return getattr(self, name)


class DeferredAttribute:
    """Stands for ``module.<path>`` (``tf.compat.v1``) while ``module`` is deferred:
    reading any attribute of it loads the module and reads the real one."""

    def __init__(self, module, path):
        self._module, self._path = module, path

    def __getattr__(self, name):
        return getattr(_walk(self._module, self._path), name)

    def __repr__(self):
        return f"<deferred {self._module.__name__}.{self._path}>"


def attribute(module, path):
    """``module.<path>`` (``attribute(tf, 'compat.v1')``), or a :class:`DeferredAttribute`
    standing for it while ``module`` is a :class:`DeferredModule`: a module-level
    alias that does not load TensorFlow on import."""
    if isinstance(module, DeferredModule):
        return DeferredAttribute(module, path)
    return _walk(module, path)


def _walk(obj, path):
    """``obj.<path>`` for a dotted ``path`` (``'compat.v1'``)."""
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


class QuietLoader(importlib.abc.Loader):
    """Runs ``loader``'s import of ``tensorflow`` (and its device listing) inside
    :func:`captured_stderr`. The module keeps ``loader`` as its own. With
    ``defer``, the import only binds a :class:`DeferredModule`, which does all
    this on its first use."""

    def __init__(self, loader, defer=False):
        self.loader = loader
        self.defer = defer

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = module.__spec__.loader = self.loader
        if self.defer:
            path = module.__dict__.pop("__path__", None)
            module._deferred = (QuietLoader(self.loader), path)
            module.__class__ = DeferredModule
            return
        with captured_stderr():
            self.loader.exec_module(module)
            try:
                # CUDA's platform initialises here, so its cuInit line is caught too
                module.config.list_physical_devices()
            except Exception:  # a broken device setup: the lesson's own device query reports it
                pass
        _loaded()


class QuietImportFinder(importlib.abc.MetaPathFinder):
    """First on ``sys.meta_path``: finds ``tensorflow`` through the other finders
    and hands its loader to :class:`QuietLoader`, the first time only (so an
    import that failed is retried unfiltered). It stays on ``sys.meta_path``
    afterwards, answering None: taking it off while another thread walks the
    list could make that thread skip a finder."""

    def __init__(self, defer=False):
        self.done = False
        self.defer = defer

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "tensorflow" or self.done:
            return None
        self.done = True
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = QuietLoader(spec.loader, defer=self.defer)
        return spec


def install():
    """Set the environment defaults, and filter TensorFlow's start-up lines unless verbose
    (deferring the import when the command only prints its help, :func:`help_requested`).

    The filter is not installed when TensorFlow is already imported (too late)
    or the finder is already in place (the package imported again).
    """
    verbose = verbose_requested()
    if platform.machine().lower() in ("x86_64", "amd64"):
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    if verbose:
        os.environ.setdefault(VERBOSE_ENV, "1")  # the processes a command starts inherit it
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    if "tensorflow" in sys.modules or any(isinstance(f, QuietImportFinder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, QuietImportFinder(defer=help_requested()))
