"""gymnasium environments for the RL lessons, with one-line errors for what they cannot learn.

The lessons' agents choose among a finite set of actions (a Q-table row, a
Q-network's outputs, a softmax policy) and read a flat observation (a state
number or a small vector). :func:`make_env` refuses anything else up front with
a :class:`~tfgraph_lessons.core.errors.UsageError` that says why, instead of a
shape error deep inside a graph.
"""
import difflib
import os

from tfgraph_lessons.core.errors import DataError, UsageError


def _gym():
    import gymnasium  # not at import: the rest of the package works without it

    return gymnasium


def _unknown_id_message(name, registry):
    close = difflib.get_close_matches(name, list(registry), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else (
        "; try CartPole-v1, FrozenLake-v1, Acrobot-v1 or MountainCar-v0")
    return f"unknown environment --env {name!r}{hint}"


def _install_hint(error):
    """The pip command for a missing optional package, from gymnasium's message."""
    text = " ".join(str(error).split())
    if "box2d" in text.lower():
        return 'pip install swig "gymnasium[box2d]"'
    if "mujoco" in text.lower():
        return 'pip install "gymnasium[mujoco]"'
    if "pygame" in text.lower():
        return 'pip install "gymnasium[classic-control]" (for pygame)'
    return "the package its error names"


def check_spaces(env, name):
    """Refuse an environment whose actions are not discrete or whose observations are images.

    Raises:
      UsageError: a continuous (Box) or other non-discrete action space, or a
        Box observation of rank >= 2 (an image).
    """
    spaces = _gym().spaces
    if not isinstance(env.action_space, spaces.Discrete):
        raise UsageError(f"--env {name} has a {type(env.action_space).__name__} action space "
                         f"{env.action_space}; an agent here needs a discrete action "
                         "space (try CartPole-v1, Acrobot-v1, MountainCar-v0)")
    obs = env.observation_space
    if isinstance(obs, spaces.Box) and len(obs.shape) >= 2:
        raise UsageError(f"--env {name} observes images (shape {obs.shape}); these lessons "
                         "take a state number or a flat vector, not images")
    if not isinstance(obs, (spaces.Box, spaces.Discrete)):
        raise UsageError(f"--env {name} has a {type(obs).__name__} observation space; these "
                         "lessons take a Discrete state or a flat Box vector")


def make_env(name, seed=None, render_mode=None, **kwargs):
    """A gymnasium environment a lesson can learn.

    Args:
      name: a registered gymnasium id (``'FrozenLake-v1'``, ``'CartPole-v1'``).
      seed: seeds the first ``reset`` (later resets continue its generator), or None.
      render_mode: gymnasium's (``'rgb_array'`` for frames), or None.
      **kwargs: passed to ``gymnasium.make`` (``is_slippery=False``, ``map_name='8x8'``).
    Returns:
      the environment (``gymnasium.Env``), reset once when ``seed`` is given.
    Raises:
      UsageError: an unknown id, a bad keyword, a non-discrete action space or
        image observations.
      DataError: the environment needs an optional package that is not installed.
    """
    gym = _gym()
    if name not in gym.registry:
        raise UsageError(_unknown_id_message(name, gym.registry))
    if render_mode == "rgb_array":
        # pictures drawn off screen need no display: without this, SDL (under pygame)
        # prints "error: XDG_RUNTIME_DIR is invalid" on machines without one
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    try:
        if render_mode is not None:  # an environment without rendering takes no render_mode
            kwargs["render_mode"] = render_mode
        env = gym.make(name, **kwargs)
    except gym.error.DependencyNotInstalled as e:
        raise DataError(f"--env {name} needs an optional package that is not installed; "
                        f"install it with: {_install_hint(e)}") from None
    except TypeError as e:
        raise UsageError(f"--env {name} does not take these settings "
                         f"({' '.join(str(e).split())[:120]})") from None
    try:
        check_spaces(env, name)
    except UsageError:
        env.close()
        raise
    if seed is not None:
        env.reset(seed=seed)
    return env


def describe(env):
    """``{'observations': n or shape, 'actions': n, 'reward_threshold': x or None}``."""
    spaces = _gym().spaces
    obs = env.observation_space
    size = int(obs.n) if isinstance(obs, spaces.Discrete) else list(obs.shape)
    spec = env.spec
    return {"id": spec.id if spec else None, "observations": size,
            "actions": int(env.action_space.n),
            "reward_threshold": spec.reward_threshold if spec else None,
            "max_episode_steps": spec.max_episode_steps if spec else None}
