"""Reinforcement-learning chapter: gymnasium environments checked for what a lesson can learn."""
from tfgraph_lessons.rl.envs import describe, make_env

__all__ = ["describe", "make_env"]
