"""The time series of the RNN forecasting lesson (tfgraph_lessons.data.series): each
follows its formula, is deterministic per seed, Mackey-Glass integrates as
documented, goog is matplotlib's daily close, and bad names are refused."""
import numpy as np
import pytest

from tfgraph_lessons.core.errors import DataError, UsageError
from tfgraph_lessons.data import series


def test_sines_follow_their_formula_and_are_deterministic_per_seed():
    x = series.make_series("sines", seed=3)  # the defaults: 4,000 values, noise 0.1
    t = np.arange(4000)
    noise = np.random.default_rng(3).standard_normal(4000)
    expected = np.sin(2 * np.pi * t / 40) + 0.5 * np.sin(2 * np.pi * t / 13) + 0.1 * noise
    np.testing.assert_allclose(x, expected, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(x, series.make_series("sines", seed=3))
    assert not np.allclose(x, series.make_series("sines", seed=4))
    clean = series.make_series("sines", length=100, noise=0.0)
    np.testing.assert_allclose(clean, expected[:100] - 0.1 * noise[:100], atol=1e-12)
    assert "sin(2 pi t / 40) + 0.5 sin(2 pi t / 13)" in series.SERIES["sines"][2]


def test_mackey_glass_integrates_and_samples_as_documented():
    rng = np.random.default_rng(0)
    # beta = 0 leaves dx/dt = -gamma x: ten Euler steps of 0.1 per sample
    decay = series.mackey_glass(30, 0.0, rng, beta=0.0, burn_in=0)
    np.testing.assert_allclose(decay, 1.2 * (1 - 0.1 * 0.1) ** (10 * np.arange(30)),
                               rtol=1e-12)
    x = series.make_series("mackey_glass", length=1500)
    np.testing.assert_array_equal(x, series.make_series("mackey_glass", length=1500,
                                                        seed=5))  # no noise by default
    assert 0.2 < x.min() < 0.6 and 1.1 < x.max() < 1.4  # the attractor's known range
    assert np.std(x[:500]) > 0.15                     # chaotic, not settled on a fixed point


def test_goog_is_matplotlibs_daily_close():
    x = series.make_series("goog")
    assert len(x) == series.GOOG_DAYS == 1047
    assert x[0] == pytest.approx(100.34) and x[-1] == pytest.approx(362.71)


def test_bad_names_and_shapes_are_refused_in_one_line(monkeypatch):
    with pytest.raises(UsageError, match="unknown series 'sunspots'; use sines, mackey_glass, "
                                         "goog"):
        series.make_series("sunspots")
    for kwargs in (dict(length=500), dict(noise=0.1)):
        with pytest.raises(UsageError, match="goog is a real series of 1,047 days: drop length"):
            series.make_series("goog", **kwargs)

    def unreadable(name):
        raise OSError(f"no such file: {name}")

    from matplotlib import cbook
    monkeypatch.setattr(cbook, "get_sample_data", unreadable)
    with pytest.raises(DataError, match=r"goog.npz cannot be read \(no such file: goog.npz\); "
                                        "reinstall matplotlib"):
        series.goog_close()
