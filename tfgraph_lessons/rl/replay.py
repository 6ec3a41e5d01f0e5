"""Experience replay: a fixed-size NumPy ring buffer of transitions for DQN.

[1] Volodymyr Mnih et al., Human-level control through deep reinforcement
    learning. Nature 518, 529-533 (2015). (Experience replay, "Methods".)
[2] Long-Ji Lin, Self-improving reactive agents based on reinforcement
    learning, planning and teaching. Machine Learning 8, 293-321 (1992).

Why replay (the slides' DQN section, after [1]):

* consecutive transitions of one episode are strongly correlated; a gradient
  step on them is a step on a biased, slowly drifting sample. Drawing a
  minibatch uniformly from the last ``capacity`` transitions decorrelates the
  updates, which is what stochastic gradient descent assumes;
* each transition is reused in many updates instead of being thrown away
  after one, so fewer environment steps are needed (data efficiency);
* the batch mixes the behaviour of many past policies, which smooths the
  feedback loop between the current Q-network and the data it collects.

Usage::

    buffer = ReplayBuffer(50_000, env.observation_space.shape)
    buffer.add(obs, action, reward, next_obs, terminated)
    batch = buffer.sample(64, rng)     # dict of arrays, batch["obs"]: [64, *obs_shape]
    np.savez(path, **buffer.state_dict())          # beside the checkpoint
    buffer.load_state_dict(dict(np.load(path)))    # on --resume

Only ``terminated`` (the MDP reached a terminal state) is stored, not
gymnasium's ``truncated`` (a time limit): the target must still bootstrap from
``next_obs`` after a truncation, so the caller stores ``terminated`` alone.
"""
import numpy as np

from tfgraph_lessons.core.errors import UsageError

__all__ = ["ReplayBuffer"]

# The fields of one transition: name -> dtype (None: the observation dtype).
_FIELDS = {"obs": None, "action": np.int64, "reward": np.float32,
           "next_obs": None, "terminated": np.bool_}


class ReplayBuffer:
    """A preallocated ring buffer of ``(obs, action, reward, next_obs, terminated)``.

    Memory is allocated once (``capacity`` rows per field), so the buffer never
    grows during training; once full, each :meth:`add` overwrites the oldest
    transition (first in, first out, as in [1]).

    Args:
        capacity: the most transitions kept (``> 0``); [1] used 1,000,000 for
            Atari, CartPole needs about 50,000.
        observation_shape: the shape of one observation, e.g. ``(4,)``.
        observation_dtype: the dtype observations are stored in.
    """

    def __init__(self, capacity, observation_shape, observation_dtype=np.float32):
        if isinstance(capacity, bool) or not isinstance(capacity, (int, np.integer)) or capacity <= 0:
            raise UsageError(f"ReplayBuffer: capacity must be a positive integer, got {capacity!r}")
        try:
            shape = tuple(int(d) for d in observation_shape)
        except TypeError:
            raise UsageError("ReplayBuffer: observation_shape must be a tuple of sizes such as (4,), "
                             f"got {observation_shape!r}") from None
        if any(d <= 0 for d in shape):
            raise UsageError(f"ReplayBuffer: observation_shape must have positive sizes, got {shape}")
        self.capacity = int(capacity)
        self.observation_shape = shape
        self.observation_dtype = np.dtype(observation_dtype)
        self._arrays = {}
        for name, dtype in _FIELDS.items():
            row = shape if dtype is None else ()
            self._arrays[name] = np.zeros((self.capacity,) + row,
                                          dtype=self.observation_dtype if dtype is None else dtype)
        self._next = 0   # the row the next add writes (the oldest row once full)
        self._size = 0   # how many rows hold a transition

    def __len__(self):
        return self._size

    def _observation(self, value, name):
        array = np.asarray(value, dtype=self.observation_dtype)
        if array.shape != self.observation_shape:
            raise UsageError(f"ReplayBuffer.add: {name} has shape {array.shape}, expected "
                             f"{self.observation_shape} (the observation_shape given to the buffer)")
        return array

    def add(self, obs, action, reward, next_obs, terminated):
        """Store one transition, overwriting the oldest when the buffer is full.

        Args:
            obs: the observation the action was taken in, ``observation_shape``.
            action: the discrete action taken (an integer).
            reward: the reward received.
            next_obs: the observation after the step, ``observation_shape``.
            terminated: whether ``next_obs`` is terminal (no bootstrap from it).
        """
        row = {"obs": self._observation(obs, "obs"), "action": action, "reward": reward,
               "next_obs": self._observation(next_obs, "next_obs"), "terminated": bool(terminated)}
        for name, value in row.items():
            self._arrays[name][self._next] = value
        # The ring: wrap to row 0 after the last row, so the oldest is overwritten.
        self._next = (self._next + 1) % self.capacity
        self._size = min(self._size + 1, self.capacity)

    def sample(self, batch_size, rng):
        """Draw a minibatch uniformly, without replacement within the batch.

        Args:
            batch_size: how many transitions (``1 <= batch_size <= len(self)``).
            rng: a ``numpy.random.Generator``; the same seed gives the same batches.

        Returns:
            dict with ``obs`` and ``next_obs`` ``[batch_size, *observation_shape]``,
            ``action`` int64, ``reward`` float32 and ``terminated`` bool
            ``[batch_size]``; the arrays are copies, safe to keep.
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size <= 0:
            raise UsageError(f"ReplayBuffer.sample: batch_size must be a positive integer, "
                             f"got {batch_size!r}")
        if batch_size > self._size:
            raise UsageError(f"ReplayBuffer.sample: asked for {batch_size} transitions but only "
                             f"{self._size} are stored; wait for more steps before learning "
                             "(a learning_starts of at least the batch size)")
        if not isinstance(rng, np.random.Generator):
            raise UsageError("ReplayBuffer.sample: rng must be a numpy.random.Generator "
                             f"(np.random.default_rng(seed)), got {type(rng).__name__}")
        # Rows [0, size) are filled whether or not the ring has wrapped.
        index = rng.choice(self._size, size=batch_size, replace=False)
        return {name: array[index] for name, array in self._arrays.items()}

    def state_dict(self):
        """Everything needed to resume, as plain arrays for ``np.savez``.

        Returns:
            dict of NumPy arrays: the five fields (all ``capacity`` rows) and the
            counters ``next_index`` and ``size`` as 0-d int64 arrays.
        """
        state = {name: array.copy() for name, array in self._arrays.items()}
        state["next_index"] = np.asarray(self._next, dtype=np.int64)
        state["size"] = np.asarray(self._size, dtype=np.int64)
        return state

    def load_state_dict(self, state):
        """Restore from :meth:`state_dict` (or ``dict(np.load(path))``).

        Args:
            state: mapping with the five fields and ``next_index``, ``size``;
                the field shapes must match this buffer's capacity and
                observation shape.
        """
        missing = [k for k in list(_FIELDS) + ["next_index", "size"] if k not in state]
        if missing:
            raise UsageError(f"ReplayBuffer.load_state_dict: missing {missing}; pass the dict "
                             "returned by state_dict()")
        for name, array in self._arrays.items():
            if np.shape(state[name]) != array.shape:
                raise UsageError(f"ReplayBuffer.load_state_dict: {name} has shape "
                                 f"{np.shape(state[name])}, this buffer expects {array.shape}; "
                                 "create the buffer with the saved capacity and observation_shape")
        next_index, size = int(state["next_index"]), int(state["size"])
        if not (0 <= size <= self.capacity and 0 <= next_index < self.capacity):
            raise UsageError(f"ReplayBuffer.load_state_dict: counters size={size}, "
                             f"next_index={next_index} do not fit capacity {self.capacity}")
        # Validate everything before writing anything: no half-loaded buffer.
        for name, array in self._arrays.items():
            array[...] = state[name]
        self._next, self._size = next_index, size
