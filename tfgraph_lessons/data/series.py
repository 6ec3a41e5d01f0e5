"""Time series for the RNN forecasting lesson: two synthetic series and a real one.

    from tfgraph_lessons.data.series import SERIES, make_series
    x = make_series("sines", seed=0)           # float64 [4000]
    x = make_series("mackey_glass", length=1500)
    x = make_series("goog")                    # float64 [1047], Google's daily close

The series (their formulas are also ``SERIES[name][2]``, which the lesson
writes to ``metrics.json``):

- ``sines``: ``x_t = sin(2 pi t / 40) + 0.5 sin(2 pi t / 13) + noise * e_t``,
  ``e_t ~ N(0, 1)`` from ``numpy.random.default_rng(seed)``, noise 0.1 by default:
  two periods to combine, and noise no forecast can predict (best possible
  one-step MSE: noise**2 = 0.01).
- ``mackey_glass``: the chaotic delay equation of Mackey & Glass (1977),
  ``dx/dt = 0.2 x(t-17) / (1 + x(t-17)**10) - 0.1 x(t)`` (:func:`mackey_glass`),
  noise 0 by default.
- ``goog``: a real series, Google's daily adjusted close, 2004-08-19 .. 2008-10-14
  (1,047 days), shipped with matplotlib as sample data, so offline (scikit-learn
  ships no time series, scipy's need a download). A share price is close to a
  random walk, whose best forecast is its last value.

Every series is deterministic per seed (``goog`` has no randomness at all).
"""
import numpy as np

from tfgraph_lessons.core.errors import DataError, UsageError

__all__ = ["GOOG_DAYS", "SERIES", "sines", "mackey_glass", "goog_close", "make_series"]

GOOG_DAYS = 1047

SERIES = {  # name: (default length, default noise, formula)
    "sines": (4000, 0.1, "x_t = sin(2 pi t / 40) + 0.5 sin(2 pi t / 13) + noise * N(0, 1)"),
    "mackey_glass": (4000, 0.0, "dx/dt = 0.2 x(t-17) / (1 + x(t-17)^10) - 0.1 x(t); Euler "
                                "dt 0.1 from x = 1.2, one sample per time unit after 500 "
                                "units of burn-in; + noise * N(0, 1)"),
    "goog": (GOOG_DAYS, None, "Google's daily adjusted close, 2004-08-19 .. 2008-10-14 "
                              "(matplotlib sample data goog.npz)"),
}


def sines(length, noise, rng):
    """``sin(2 pi t / 40) + 0.5 sin(2 pi t / 13) + noise * e_t`` for ``t = 0 .. length-1``.

    Args:
      length: number of values.
      noise: standard deviation of the Gaussian noise ``e_t``.
      rng: a ``numpy.random.Generator`` (the noise's only source).
    Returns:
      float64 ``[length]``.
    """
    t = np.arange(length)
    return (np.sin(2 * np.pi * t / 40) + 0.5 * np.sin(2 * np.pi * t / 13)
            + noise * rng.standard_normal(length))


def mackey_glass(length, noise, rng, tau=17, beta=0.2, gamma=0.1, n=10, dt=0.1, burn_in=500):
    """The Mackey-Glass delay equation ``dx/dt = beta x(t-tau) / (1 + x(t-tau)^n) - gamma x(t)``,
    Euler-integrated with step ``dt`` from ``x = 1.2`` (also the history before t = 0),
    one sample per time unit after ``burn_in`` units, plus ``noise * e_t``.

    Args:
      length: number of samples (one per time unit).
      noise: standard deviation of the Gaussian noise added to the samples.
      rng: a ``numpy.random.Generator`` (the noise's only source).
      tau, beta, gamma, n: the equation's delay and constants (tau = 17: chaotic).
      dt: the Euler step, in time units (``1 / dt`` steps per sample).
      burn_in: time units integrated and dropped, so the samples lie on the attractor.
    Returns:
      float64 ``[length]``.
    """
    per_unit, lag = round(1 / dt), round(tau / dt)
    total = (burn_in + length) * per_unit
    x = np.empty(lag + total + 1)
    x[:lag + 1] = 1.2
    for k in range(lag, lag + total):  # x[k - lag] is x(t - tau)
        delayed = x[k - lag]
        x[k + 1] = x[k] + dt * (beta * delayed / (1 + delayed ** n) - gamma * x[k])
    samples = x[lag + burn_in * per_unit::per_unit][:length]
    return samples + noise * rng.standard_normal(length)


def goog_close():
    """Google's daily adjusted closing price (matplotlib's sample data), 1,047 days.

    Returns:
      float64 ``[GOOG_DAYS]``, oldest first.
    """
    from matplotlib import cbook  # only this series needs matplotlib
    try:
        with cbook.get_sample_data("goog.npz") as f:
            return np.asarray(f["price_data"]["adj_close"], np.float64)
    except (OSError, KeyError, ValueError) as e:
        raise DataError(f"--series goog: matplotlib's sample data goog.npz cannot be read "
                        f"({e}); reinstall matplotlib, or use --series sines") from None


def make_series(name, length=None, noise=None, seed=0):
    """The series ``name`` as a float64 vector, deterministic per ``seed``.

    Args:
      name: a key of :data:`SERIES` (sines, mackey_glass, goog).
      length: values of a synthetic series (None: its default, 4,000).
      noise: standard deviation of a synthetic series' noise (None: its default).
      seed: seeds ``numpy.random.default_rng``, the noise's only source.
    Returns:
      float64 ``[length]`` (``[GOOG_DAYS]`` for goog).
    """
    if name not in SERIES:
        raise UsageError(f"unknown series {name!r}; use {', '.join(SERIES)}")
    default_length, default_noise, _ = SERIES[name]
    if name == "goog":
        if length not in (None, GOOG_DAYS) or noise:
            raise UsageError(f"series goog is a real series of {GOOG_DAYS:,} days: drop "
                             "length and noise (they shape the synthetic series)")
        return goog_close()
    maker = sines if name == "sines" else mackey_glass
    return maker(default_length if length is None else length,
                 default_noise if noise is None else noise, np.random.default_rng(seed))
