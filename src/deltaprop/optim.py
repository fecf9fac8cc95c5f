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

``opt.step(net, dW, db)`` applies one step in place to ``net.W[l]`` and ``net.b[l]``; it uses
the gradient arrays it is given as scratch space (they are overwritten), so a step allocates
at most two parameter-sized temporaries. ``opt.lr`` (:math:`\eta`) may be changed between steps;
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
from typing import Any

import numpy as np

from . import _array

StateDict = dict[str, Any]
"""A flat ``{name: numpy array | float | int}`` mapping (safetensors arrays + JSON numbers)."""


def _number(value: Any, name: str, *, low: float, high: float = math.inf,
            low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a float in the interval, or a ValueError/TypeError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number; got {value!r}")
    v = float(value)
    too_low = v <= low if low_open else v < low
    too_high = v >= high if high_open else v > high
    if not math.isfinite(v) or too_low or too_high:
        lo = f"{'(' if low_open else '['}{low:g}"
        hi = f"{high:g}{')' if high_open or high == math.inf else ']'}"
        raise ValueError(f"{name} must be a finite number in {lo}, {hi}; got {value!r}")
    return v


def _copy(x: Any) -> Any:
    """An independent copy of an array of any backend, on the same device."""
    if type(x) is np.ndarray:
        return x.copy()
    return _array.namespace(x).asarray(x, copy=True)


class Optimizer:
    """Base class: a learning rate ``lr``, per-parameter state, ``step`` and state export.

    Subclasses define ``_slots`` (the names of their per-parameter state arrays),
    ``_hyper`` (the names of their float/int hyper-parameters) and ``_update``.
    """

    name = "optimizer"
    _slots: tuple[str, ...] = ()
    _hyper: tuple[str, ...] = ("lr",)

    def __init__(self, lr: float) -> None:
        self.lr = lr
        # _state[slot][k]: state array of parameter k (W[1], b[1], W[2], b[2], ...) or None
        self._state: dict[str, list[Any]] | None = None
        self._pending: StateDict | None = None  # loaded arrays, placed on the first step

    @property
    def lr(self) -> float:
        """The learning rate :math:`\\eta` used by the next step (schedules change it)."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = _number(value, "lr", low=0.0, low_open=True)

    # --- the step ---------------------------------------------------------------------------

    def step(self, net: Any, dW: Sequence[Any], db: Sequence[Any]) -> None:
        """Update ``net.W[l]`` and ``net.b[l]`` in place from the gradients.

        Parameters
        ----------
        net : Network
        dW : sequence of arrays, ``dW[l]`` of shape (n_l, n_{l-1})
            :math:`\\partial J/\\partial W^{[l]}`, l = 1..L (a :class:`Layers` or a plain list
            in layer order). Overwritten: the step uses it as scratch space.
        db : sequence of arrays, ``db[l]`` of shape (n_l, 1)
            :math:`\\partial J/\\partial b^{[l]}`, l = 1..L. Overwritten likewise.
        """
        params = [p for pair in zip(net.W, net.b) for p in pair]  # W[1], b[1], W[2], ...
        grads = [g for pair in zip(dW, db) for g in pair]
        if self._state is None:
            self._init_state(net, params)
        self._update(params, grads)

    def _update(self, params: list[Any], grads: list[Any]) -> None:  # pragma: no cover
        raise NotImplementedError

    def _init_state(self, net: Any, params: list[Any]) -> None:
        xp = _array.namespace(*params)
        if self._pending is not None:
            state = {s: [] for s in self._slots}
            for s in self._slots:
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
                    state[s].append(net._asarray(a))
            self._pending = None
            self._state = state
        else:
            self._state = {s: [xp.zeros_like(p) for p in params] for s in self._slots}

    # --- state export -----------------------------------------------------------------------

    def state_dict(self) -> StateDict:
        """Hyper-parameters and state as a flat dict of floats/ints and NumPy arrays (copies).

        Array keys are ``"<slot>.W.<l>"`` and ``"<slot>.b.<l>"`` (e.g. ``"m.W.1"``); the
        arrays are absent before the first step.
        """
        d: StateDict = {h: getattr(self, h) for h in self._hyper}
        for h, v in d.items():
            if isinstance(v, bool):
                d[h] = int(v)
        if self._state is not None:
            for s, arrays in self._state.items():
                for k, a in enumerate(arrays):
                    d[f"{s}.{_param_name(k)}"] = np.array(_array.to_numpy(a), copy=True)
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

    def _snapshot(self) -> Any:
        state = None
        if self._state is not None:
            state = {s: [_copy(a) for a in arrays] for s, arrays in self._state.items()}
        hyper = {h: getattr(self, h) for h in self._hyper}
        return hyper, state, self._pending

    def _restore(self, snap: Any) -> None:
        hyper, state, pending = snap
        for h, v in hyper.items():
            setattr(self, h, v)
        self._state = None if state is None else {
            s: [_copy(a) for a in arrays] for s, arrays in state.items()
        }
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
        self.momentum = _number(momentum, "momentum", low=0.0, high=1.0, high_open=True)
        if not isinstance(nesterov, (bool, np.bool_, int)):
            raise TypeError(f"nesterov must be True or False; got {nesterov!r}")
        self.nesterov = bool(nesterov)
        self._slots = ("velocity",) if self.momentum > 0 else ()

    def load_state_dict(self, d: StateDict) -> None:
        super().load_state_dict(d)
        self.momentum = _number(self.momentum, "momentum", low=0.0, high=1.0, high_open=True)
        self._slots = ("velocity",) if self.momentum > 0 else ()

    def _update(self, params: list[Any], grads: list[Any]) -> None:
        eta, mu = self.lr, self.momentum
        if mu == 0.0:
            for theta, G in zip(params, grads):
                G *= eta  # G = η g
                theta -= G  # θ ← θ − η g
            return
        assert self._state is not None
        for theta, G, v in zip(params, grads, self._state["velocity"]):
            G *= eta  # G = η g
            v *= mu
            v -= G  # v ← μ v − η g
            if self.nesterov:
                # θ ← θ + μ v − η g, formed in G without a temporary: G ← μ (v − G/μ)
                G *= -1.0 / mu
                G += v
                G *= mu
                theta += G
            else:
                theta += v  # θ ← θ + v


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
        self, lr: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
        epsilon: float = 1e-8,
    ) -> None:
        super().__init__(lr)
        self.beta_1 = _number(beta_1, "beta_1", low=0.0, high=1.0, high_open=True)
        self.beta_2 = _number(beta_2, "beta_2", low=0.0, high=1.0, high_open=True)
        self.epsilon = _number(epsilon, "epsilon", low=0.0, low_open=True)
        self.t = 0

    def load_state_dict(self, d: StateDict) -> None:
        super().load_state_dict(d)
        self.t = int(self.t)

    def _update(self, params: list[Any], grads: list[Any]) -> None:
        assert self._state is not None
        b1, b2 = self.beta_1, self.beta_2
        self.t += 1
        eta_t = self.lr * math.sqrt(1.0 - b2**self.t) / (1.0 - b1**self.t)
        xp = _array.namespace(*params)
        for theta, G, m, v in zip(params, grads, self._state["m"], self._state["v"]):
            T = G * G  # temporary 1: g ⊙ g
            T *= 1.0 - b2
            v *= b2
            v += T  # v ← β₂ v + (1 − β₂) g ⊙ g
            G *= 1.0 - b1
            m *= b1
            m += G  # m ← β₁ m + (1 − β₁) g
            D = xp.sqrt(v)  # temporary 2: √v + ε
            D += self.epsilon
            G[...] = m
            G /= D
            G *= eta_t
            theta -= G  # θ ← θ − η_t m / (√v + ε)


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
            raise ValueError(
                f"learning_rate must be one of {', '.join(SCHEDULES)}; got {name!r}"
            )
        self.name = name
        self.lr0 = _number(lr0, "learning rate", low=0.0, low_open=True)
        self.power_t = _number(power_t, "power_t", low=0.0)

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
