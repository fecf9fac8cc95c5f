r"""Optimisers and learning-rate schedules: how the gradients change the parameters.

Back-propagation (:meth:`Network.gradients <deltaprop.network.Network.gradients>`) gives
:math:`\partial J/\partial W^{[l]}` and :math:`\partial J/\partial b^{[l]}`; an optimiser turns
them into a step. The network holds only its parameters; each optimiser holds its own state
(velocities, moments, step count), as scikit-learn's ``_stochastic_optimizers.py`` does. The
rules, for every parameter :math:`\theta` (each :math:`W^{[l]}` and :math:`b^{[l]}`) with
gradient :math:`g`, are scikit-learn's, so that the same settings train alike:

* :class:`SGD` with momentum :math:`\mu` (``momentum``):
  :math:`v \leftarrow \mu v - \eta g`, then :math:`\theta \leftarrow \theta + v`, or with
  Nesterov's momentum :math:`\theta \leftarrow \theta + \mu v - \eta g` (the look-ahead step).
  With :math:`\mu = 0` both are plain gradient descent :math:`\theta \leftarrow \theta - \eta g`.
* :class:`Adam` (Kingma & Ba, 2015, with the bias correction folded into the step size as in
  their section 2): :math:`t \leftarrow t + 1`,
  :math:`m \leftarrow \beta_1 m + (1-\beta_1) g`,
  :math:`v \leftarrow \beta_2 v + (1-\beta_2) g \odot g`,
  :math:`\eta_t = \eta \sqrt{1-\beta_2^t} / (1-\beta_1^t)`,
  :math:`\theta \leftarrow \theta - \eta_t\, m / (\sqrt v + \epsilon)`.

``opt.step(net, dW, db)`` applies one step in place to ``net.W[l]`` and ``net.b[l]``. The
state of all parameters is one flat vector per slot and the gradients are gathered into one
flat vector (a reused buffer on NumPy), so a step is a dozen vector operations whatever the
depth, with at most two temporaries. ``opt.lr`` (:math:`\eta`) may be changed between steps;
the schedules below do so once per epoch. ``state_dict()`` / ``load_state_dict()`` export and
restore everything as a flat ``dict`` of NumPy arrays and numbers (safetensors-friendly), so
training can stop and resume bit for bit.

Learning-rate schedules (scikit-learn's ``learning_rate`` parameter), applied by
:func:`deltaprop.training.fit` at the end of each epoch:

* ``"constant"``: :math:`\eta = \eta_0` throughout;
* ``"invscaling"``: :math:`\eta = \eta_0 / (t + 1)^{\text{power\_t}}`, t the number of samples
  seen so far (scikit-learn's ``iteration_ends``; the +1 only guards t = 0);
* ``"adaptive"``: :math:`\eta` stays :math:`\eta_0` while training improves; each time
  ``n_iter_no_change`` consecutive epochs fail to improve (the training loss by ``tol``, or the
  validation score when early stopping), :math:`\eta` is divided by 5, and training stops only
  once :math:`\eta \le 10^{-6}`.

Example
-------
>>> import numpy as np
>>> import deltaprop as dp
>>> from deltaprop.optim import SGD
>>> net = dp.Network([2, 1], seed=0)
>>> opt = SGD(lr=0.5)
>>> W_before = net.W[1].copy()
>>> dW, db = [np.ones((1, 2))], [np.ones((1, 1))]      # as if dJ/dW^[1] were all ones
>>> opt.step(net, dW, db)
>>> np.allclose(net.W[1], W_before - 0.5)
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _array, _checks
from ._layers import Layers

StateDict = dict[str, Any]
"""A flat ``{name: numpy array | float | int}`` mapping (safetensors arrays + JSON numbers)."""

if TYPE_CHECKING:
    from .network import Network


class Optimizer:
    """Base class: a learning rate ``lr``, per-parameter state, ``step`` and state export.

    The state of all parameters W[1], b[1], W[2], ... lives in one flat vector per slot
    (``"m"``, ``"v"``, ``"velocity"``), and each step gathers the gradients into one flat
    vector too, so that a rule is a handful of vector operations whatever the depth; the
    update is then added to each parameter in place. Subclasses define ``_slots`` (the state
    vectors' names), ``_hyper`` (their float/int hyper-parameters) and ``_update(G)``, which
    turns the flat gradient ``G`` (scratch) into the flat update ``U``: θ ← θ + U.
    """

    name = "optimizer"
    _slots: tuple[str, ...] = ()
    _hyper: tuple[str, ...] = ("lr",)

    def __init__(self, lr: float) -> None:
        self.lr = lr
        self._state: dict[str, Any] | None = None  # slot -> flat vector over all parameters
        self._layout: list[tuple[int, int, tuple[int, ...]]] = []  # (offset, size, shape)
        self._pending: StateDict | None = None  # loaded arrays, placed on the first step
        self._G: Any = None  # NumPy: the flat gradient buffer, reused every step
        self._T: Any = None  # NumPy: a flat scratch vector for the rules (no per-step arrays)
        self._views: dict[int, list[Any]] = {}  # NumPy: per-parameter views of flat buffers

    @property
    def lr(self) -> float:
        """The learning rate :math:`\\eta` used by the next step (schedules change it)."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = _checks.number(value, "lr", low=0.0, low_open=True)

    # --- the step ---------------------------------------------------------------------------

    def step(self, net: Network, dW: Sequence[Any], db: Sequence[Any]) -> None:
        """Update ``net.W[l]`` and ``net.b[l]`` in place from the gradients.

        Parameters
        ----------
        net : Network
        dW : sequence of arrays, ``dW[l]`` of shape (n_l, n_{l-1})
            :math:`\\partial J/\\partial W^{[l]}`, l = 1..L (a :class:`Layers` or a plain
            list in layer order). May be overwritten: the step may use it as scratch space.
        db : sequence of arrays, ``db[l]`` of shape (n_l, 1)
            :math:`\\partial J/\\partial b^{[l]}`, l = 1..L. May be overwritten likewise.
        """
        if getattr(net, "backend", None) == "jax":  # immutable arrays: the compiled rule
            from . import _jax

            _jax.step(self, net, dW, db)
            return
        params = [p for pair in zip(net.W, net.b) for p in pair]  # W[1], b[1], W[2], ...
        grads = [g for pair in zip(dW, db) for g in pair]
        if self._state is None or len(self._layout) != len(params):
            self._init_state(net, params)
        if not self._slots:  # no state (plain SGD): per parameter, θ ← θ − η g
            for theta, G in zip(params, grads):
                G *= self.lr
                theta -= G
            return
        U = self._update(self._gather(grads))
        for theta, u in zip(params, self._split(U)):
            theta += u

    def _update(self, G: Any) -> Any:  # pragma: no cover
        raise NotImplementedError

    def _grad_buffers(self, net: Network) -> tuple[Layers, Layers] | None:
        """Per-layer views ``(dW, db)`` of the flat gradient buffer (``dW[l]``, l = 1..L), for a
        fast path to write the next step's gradients into (NumPy, rules with state); None
        otherwise.

        :meth:`_gather` then finds them in place and copies nothing.
        """
        if getattr(net, "backend", None) != "numpy" or not self._slots:
            return None
        params = [p for pair in zip(net.W, net.b) for p in pair]
        if self._state is None or len(self._layout) != len(params):
            self._init_state(net, params)
        if self._G is None:
            return None
        views = self._views[id(self._G)]
        return Layers(views[0::2], "dW"), Layers(views[1::2], "db")

    def _gather(self, grads: list[Any]) -> Any:
        """The gradients as one flat vector (a reused buffer on NumPy)."""
        if self._G is not None:
            for v, g in zip(self._views[id(self._G)], grads):
                if g is not v:  # a gradient already written into the buffer is not copied
                    v[...] = g
            return self._G
        xp = _array.namespace(*grads)
        return xp.concat([xp.reshape(g, (-1,)) for g in grads])

    def _split(self, flat: Any) -> list[Any]:
        """Per-parameter views (shapes of W[1], b[1], ...) of a flat vector."""
        views = self._views.get(id(flat))
        if views is not None:
            return views
        xp = _array.namespace(flat)
        return [xp.reshape(flat[o : o + n], shape) for o, n, shape in self._layout]

    def _init_state(self, net: Network, params: list[Any]) -> None:
        xp = _array.namespace(*params)
        self._layout, offset = [], 0
        for p in params:
            n = math.prod(p.shape)
            self._layout.append((offset, n, tuple(p.shape)))
            offset += n
        state = {}
        for s in self._slots:
            if self._pending is None:
                state[s] = xp.zeros(
                    (offset,), dtype=params[0].dtype, device=_array.device_of(params[0])
                )
                continue
            parts = []
            for k, p in enumerate(params):
                key = f"{s}.{_param_name(k)}"
                if key not in self._pending:
                    raise ValueError(
                        f"optimizer state has no {key!r}: it was saved for another network"
                    )
                a = np.asarray(self._pending[key])
                if a.shape != tuple(p.shape):
                    raise ValueError(
                        f"optimizer state {key!r} has shape {a.shape} but the parameter "
                        f"has shape {tuple(p.shape)}: it was saved for another network"
                    )
                parts.append(a.reshape(-1))
            state[s] = net._asarray(np.concatenate(parts))
        self._pending = None
        self._state = state
        self._G, self._T, self._views = None, None, {}
        if type(params[0]) is np.ndarray and self._slots:  # plain SGD needs no flat buffer
            self._G = np.empty((offset,), dtype=params[0].dtype)
            self._T = np.empty((offset,), dtype=params[0].dtype)  # the rules' scratch
            for flat in (self._G, *state.values()):
                self._views[id(flat)] = [
                    flat[o : o + n].reshape(shape) for o, n, shape in self._layout
                ]

    # --- state export -----------------------------------------------------------------------

    def state_dict(self) -> StateDict:
        """Hyper-parameters and state as a flat dict of floats/ints and NumPy arrays (copies).

        Array keys are ``"<slot>.W.<l>"`` and ``"<slot>.b.<l>"`` (e.g. ``"m.W.1"``), each of
        its parameter's shape; the arrays are absent before the first step.
        """
        d: StateDict = {h: getattr(self, h) for h in self._hyper}
        for h, v in d.items():
            if isinstance(v, bool):
                d[h] = int(v)
        if self._state is not None:
            for s, flat in self._state.items():
                host = _array.to_numpy(flat)
                for k, (o, n, shape) in enumerate(self._layout):
                    d[f"{s}.{_param_name(k)}"] = host[o : o + n].reshape(shape).copy()
        elif self._pending is not None:
            d.update({k: np.array(v, copy=True) for k, v in self._pending.items()})
        return d

    def load_state_dict(self, d: StateDict) -> None:
        """Restore hyper-parameters and state from :meth:`state_dict`'s output.

        The arrays are moved onto the network's backend, device and dtype at the next step,
        and checked against the parameters' shapes there.
        """
        for h in self._hyper:
            if h not in d:
                raise ValueError(f"{self.name} state_dict lacks {h!r}")
        for h in self._hyper:
            v = d[h]
            v = v.item() if isinstance(v, np.ndarray) else v
            setattr(self, h, bool(v) if isinstance(getattr(self, h), bool) else v)
        arrays = {k: v for k, v in d.items() if k not in self._hyper}
        self._state = None
        self._pending = arrays if arrays else None

    # --- rollback (used by the fit loop; stays on the device) -------------------------------

    def snapshot(self) -> Any:
        """The optimiser's state and hyper-parameters as they are now, on the device (copies):
        cheaper than :meth:`state_dict`, for :meth:`restore` in the same process (the fit
        loop's rollback to the end of the last completed epoch)."""
        state = None
        if self._state is not None:
            state = {s: _checks.copy(flat) for s, flat in self._state.items()}
        hyper = {h: getattr(self, h) for h in self._hyper}
        return hyper, state, self._pending

    def restore(self, snap: Any) -> None:
        """Back to a :meth:`snapshot` (taken from this optimiser)."""
        hyper, state, pending = snap
        for h, v in hyper.items():
            setattr(self, h, v)
        if state is not None and self._state is not None and state.keys() == self._state.keys():
            for s, flat in state.items():
                if _array.is_jax(flat):  # immutable: replaced (JAX keeps no views)
                    self._state[s] = _checks.copy(flat)
                else:
                    self._state[s][...] = flat  # in place: the NumPy views stay valid
        else:
            self._state = None if state is None else {s: _checks.copy(f) for s, f in state.items()}
            self._layout = [] if state is None else self._layout
        self._pending = pending

    def __repr__(self) -> str:
        args = ", ".join(f"{h}={getattr(self, h)!r}" for h in self._hyper)
        return f"{type(self).__name__}({args})"


def _param_name(k: int) -> str:
    """Parameter k of the flat order W[1], b[1], W[2], b[2], ... as ``"W.1"``, ``"b.1"``..."""
    return f"{'Wb'[k % 2]}.{k // 2 + 1}"


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum and Nesterov's momentum.

    .. math:: v \\leftarrow \\mu v - \\eta g, \\qquad
              \\theta \\leftarrow \\theta + v \\ \\text{(or } \\theta + \\mu v - \\eta g
              \\text{ with Nesterov)}

    Parameters
    ----------
    lr : float, default 0.01
        :math:`\\eta > 0`.
    momentum : float, default 0.0
        :math:`\\mu \\in [0, 1)`.
    nesterov : bool, default False
        Nesterov's momentum (only matters when ``momentum > 0``).
    """

    name = "sgd"
    _hyper = ("lr", "momentum", "nesterov")

    def __init__(self, lr: float = 0.01, momentum: float = 0.0, nesterov: bool = False) -> None:
        super().__init__(lr)
        self.momentum = _checks.number(momentum, "momentum", low=0.0, high=1.0, high_open=True)
        if not isinstance(nesterov, (bool, np.bool_, int)):
            raise TypeError(f"nesterov must be True or False; got {nesterov!r}")
        self.nesterov = bool(nesterov)
        self._slots = ("velocity",) if self.momentum > 0 else ()

    def load_state_dict(self, d: StateDict) -> None:
        super().load_state_dict(d)
        self.momentum = _checks.number(self.momentum, "momentum", low=0.0, high=1.0, high_open=True)
        self._slots = ("velocity",) if self.momentum > 0 else ()

    def _update(self, G: Any) -> Any:
        assert self._state is not None
        eta, mu, v = self.lr, self.momentum, self._state["velocity"]
        G *= eta  # G = η g
        v *= mu
        v -= G  # v ← μ v − η g
        if not self.nesterov:
            return v  # θ ← θ + v
        # θ ← θ + μ v − η g, formed in G without a temporary: G ← μ (v − G/μ)
        G *= -1.0 / mu
        G += v
        G *= mu
        return G


class Adam(Optimizer):
    """Adam with bias correction (Kingma & Ba, 2015), as scikit-learn implements it.

    .. math:: m \\leftarrow \\beta_1 m + (1-\\beta_1) g, \\quad
              v \\leftarrow \\beta_2 v + (1-\\beta_2) g \\odot g, \\quad
              \\theta \\leftarrow \\theta - \\eta \\frac{\\sqrt{1-\\beta_2^t}}{1-\\beta_1^t}
              \\frac{m}{\\sqrt v + \\epsilon}

    Parameters
    ----------
    lr : float, default 0.001
        :math:`\\eta > 0`.
    beta_1, beta_2 : float, default 0.9, 0.999
        Decay rates of the first and second moment estimates, in [0, 1).
    epsilon : float, default 1e-8
        Added to :math:`\\sqrt v` for numerical stability (> 0).

    Attributes
    ----------
    t : int
        Steps taken so far (the bias correction's exponent).
    """

    name = "adam"
    _slots = ("m", "v")
    _hyper = ("lr", "beta_1", "beta_2", "epsilon", "t")

    def __init__(
        self,
        lr: float = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
    ) -> None:
        super().__init__(lr)
        self.beta_1 = _checks.number(beta_1, "beta_1", low=0.0, high=1.0, high_open=True)
        self.beta_2 = _checks.number(beta_2, "beta_2", low=0.0, high=1.0, high_open=True)
        self.epsilon = _checks.number(epsilon, "epsilon", low=0.0, low_open=True)
        self.t = 0

    def load_state_dict(self, d: StateDict) -> None:
        super().load_state_dict(d)
        self.t = int(self.t)

    def _update(self, G: Any) -> Any:
        assert self._state is not None
        b1, b2, m, v = self.beta_1, self.beta_2, self._state["m"], self._state["v"]
        self.t += 1
        eta_t = self.lr * math.sqrt(1.0 - b2**self.t) / (1.0 - b1**self.t)
        T = self._T
        if T is None:  # other backends: the same operations, two temporaries
            return self._update_any(G, eta_t)
        # NumPy: every operation in place, in blocks that stay in cache (see _blocks); the
        # same operations in the same order as _update_any, so the same bits
        for g, t, m_, v_ in _blocks(G, T, m, v):
            np.multiply(g, g, out=t)  # g ⊙ g
            t *= 1.0 - b2
            v_ *= b2
            v_ += t  # v ← β₂ v + (1 − β₂) g ⊙ g
            g *= 1.0 - b1
            m_ *= b1
            m_ += g  # m ← β₁ m + (1 − β₁) g
            np.sqrt(v_, out=t)
            t += self.epsilon  # √v + ε
            np.divide(m_, t, out=g)
            g *= -eta_t
        return G  # θ ← θ − η_t m / (√v + ε)

    def _update_any(self, G: Any, eta_t: float) -> Any:
        """The rule for any array namespace (torch, CuPy, ...): two temporaries."""
        assert self._state is not None
        b1, b2, m, v = self.beta_1, self.beta_2, self._state["m"], self._state["v"]
        T = G * G  # temporary 1: g ⊙ g
        T *= 1.0 - b2
        v *= b2
        v += T  # v ← β₂ v + (1 − β₂) g ⊙ g
        G *= 1.0 - b1
        m *= b1
        m += G  # m ← β₁ m + (1 − β₁) g
        D = _array.namespace(v).sqrt(v)  # temporary 2: √v + ε
        D += self.epsilon
        G[...] = m
        G /= D
        G *= -eta_t
        return G  # θ ← θ − η_t m / (√v + ε)


_BLOCK = 1 << 14
"""Elements per block of the NumPy update rules.

Adam's rule is eleven element-wise passes over four parameter-sized vectors (g, scratch, m,
v). Run whole, each pass streams all four through memory; run block by block, a block's four
slices (16 Ki elements: 256 KiB in float32, 512 KiB in float64) stay in the core's L2 cache
through all eleven passes. Element-wise operations do not depend on the blocking, so the
result is bit for bit the same."""


def _blocks(*flats: np.ndarray) -> Any:
    """Matching slices of equally long flat vectors, :data:`_BLOCK` elements at a time."""
    n = flats[0].shape[0]
    if n <= 2 * _BLOCK:
        yield flats
        return
    for i in range(0, n, _BLOCK):
        yield tuple(f[i : i + _BLOCK] for f in flats)


OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "adam": Adam}
"""The registry: name -> optimiser class."""


def get_optimizer(name: str | Optimizer, **kwargs: Any) -> Optimizer:
    """An optimiser by name (``"sgd"`` or ``"adam"``) built with ``kwargs``.

    An :class:`Optimizer` instance is returned as it is (``kwargs`` must then be empty).
    """
    if isinstance(name, Optimizer):
        if kwargs:
            raise TypeError("get_optimizer(optimizer_instance) takes no keyword arguments")
        return name
    if not isinstance(name, str) or name.lower() not in OPTIMIZERS:
        known = ", ".join(sorted(OPTIMIZERS))
        raise ValueError(f"unknown optimizer {name!r}; known optimizers: {known}")
    return OPTIMIZERS[name.lower()](**kwargs)


# --- learning-rate schedules ------------------------------------------------------------------

SCHEDULES = ("constant", "invscaling", "adaptive")
"""Names accepted by ``learning_rate``."""

ADAPTIVE_MIN_LR = 1e-6
"""The adaptive schedule stops training once the learning rate is at or below this."""


class Schedule:
    """A learning-rate schedule, applied by the fit loop once per epoch.

    Parameters
    ----------
    name : {"constant", "invscaling", "adaptive"}
    lr0 : float
        The initial learning rate :math:`\\eta_0`.
    power_t : float, default 0.5
        Exponent of ``"invscaling"``.
    """

    def __init__(self, name: str = "constant", lr0: float = 0.001, power_t: float = 0.5) -> None:
        if name not in SCHEDULES:
            raise ValueError(f"learning_rate must be one of {', '.join(SCHEDULES)}; got {name!r}")
        self.name = name
        self.lr0 = _checks.number(lr0, "learning rate", low=0.0, low_open=True)
        self.power_t = _checks.number(power_t, "power_t", low=0.0)

    def epoch_end(self, opt: Optimizer, t: int) -> None:
        """After an epoch, with ``t`` samples seen in all: invscaling sets η = η₀/(t+1)^p."""
        if self.name == "invscaling":
            opt.lr = self.lr0 / (t + 1) ** self.power_t

    def on_plateau(self, opt: Optimizer) -> bool:
        """``n_iter_no_change`` epochs without improvement: True to go on, False to stop.

        The adaptive schedule divides η by 5 and goes on while η > 1e-6; the others stop.
        """
        if self.name != "adaptive" or opt.lr <= ADAPTIVE_MIN_LR:
            return False
        opt.lr = opt.lr / 5.0
        return True

    def __repr__(self) -> str:
        return f"Schedule({self.name!r}, lr0={self.lr0!r}, power_t={self.power_t!r})"


__all__ = [
    "ADAPTIVE_MIN_LR",
    "OPTIMIZERS",
    "SCHEDULES",
    "SGD",
    "Adam",
    "Optimizer",
    "Schedule",
    "StateDict",
    "get_optimizer",
]
