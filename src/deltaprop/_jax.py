r"""The compiled engine, ``backend="jax"``: the same equations, traced once and compiled by XLA.

``dp.Network(..., backend="jax")`` or ``net.to("jax")`` holds the parameters as JAX arrays.
Nothing here differentiates anything: the gradients are :meth:`Network.backward
<deltaprop.network.Network.backward>` itself, equation (ii) then the loop of equation (i), run
once by :func:`jax.jit` on traced arrays (a copy of the network whose ``W`` and ``b`` are the
tracers) and compiled into one XLA program per network shape and batch width. JAX's autodiff is
never called; the test suite uses it separately, as an independent reference.

Three compiled programs, each cached per network specification (widths, activations, cost,
``alpha``, dtype) and, for the optimiser, per rule and hyper-parameters:

* :func:`gradients` — ``J``, ``dW``, ``db`` of one batch (``Network._gradients`` on JAX);
* :func:`step` — one optimiser step (``Optimizer.step`` on JAX: JAX arrays are immutable, so
  the NumPy rules' in-place arithmetic is written here as the same operations, functionally);
* :func:`epoch` — a whole epoch: ``lax.scan`` over its full batches, each batch the gradients
  and the optimiser's step, with the per-batch costs, gradient norms and the units that got
  some error returned for the fit loop's record; a last, shorter batch is one more call.

The operations and their order are the NumPy path's (:mod:`deltaprop.optim`), so results agree
with ``backend="numpy"`` to float rounding: XLA's matrix products sum in another order than
OpenBLAS's (``tests/test_jax_engine.py``: float64 weights within 1e-10 after an epoch).

Float64 needs JAX's ``jax_enable_x64`` switch; :func:`deltaprop._array.backend_namespace`
turns it on when a JAX network is made (it is process-wide: JAX's default dtype for new
arrays then becomes float64 where none is given).
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np

_CACHE: dict[Any, Any] = {}
_LOCK = threading.Lock()


def _jax() -> Any:
    import jax

    jax.config.update("jax_enable_x64", True)
    return jax


def _spec(net: Any) -> tuple[Any, ...]:
    """What a compiled program depends on (identities of activations and cost included)."""
    return (
        tuple(net.sizes),
        tuple(id(g) for g in net.g),
        id(net.loss),
        float(net.alpha),
        net.dtype_name,
    )


def _template(net: Any) -> Any:
    """A parameterless copy of ``net``: what the traced programs fill with tracers."""
    t = object.__new__(type(net))
    t.__dict__.update(net.__dict__)
    t.W = t.b = None
    t._keep = (list(net.g), net.loss)  # keeps the ids of _spec alive with the cache entry
    t._layers = type(net.W)  # Layers, without importing network (which imports this module)
    return t


def _shadow(template: Any, Ws: Any, bs: Any) -> Any:
    s = object.__new__(type(template))
    s.__dict__.update(template.__dict__)
    s.W = template._layers(list(Ws), "W")
    s.b = template._layers(list(bs), "b")
    return s


def _cached(key: Any, build: Any) -> Any:
    with _LOCK:
        fn = _CACHE.get(key)
        if fn is None:
            fn = _CACHE[key] = build()
        return fn


# --- the gradients: Network.backward, compiled -------------------------------------------------


def _grad_fn(template: Any) -> Any:
    """The traced reference: forward pass, Network.backward, the cost."""

    def grads(Ws: Any, bs: Any, X: Any, Y: Any) -> Any:
        J, dW, db = _shadow(template, Ws, bs)._reference_gradients(X, Y)
        return J, list(dW), list(db)

    return grads


def gradients(net: Any, X: Any, Y: Any) -> tuple[Any, list[Any], list[Any]]:
    """``J`` (0-d), ``dW``, ``db`` (lists in layer order) from one compiled program."""
    fn = _cached(("grad", _spec(net)), lambda: _jax().jit(_grad_fn(_template(net))))
    return fn(list(net.W), list(net.b), X, Y)  # type: ignore[no-any-return, unused-ignore]


# --- the optimisers' rules, functionally (the NumPy rules' operations, in their order) --------


def _rule(opt: Any) -> tuple[Any, ...]:
    """The rule of ``opt`` and its fixed hyper-parameters (the learning rate is not fixed)."""
    if opt.name == "adam":
        return ("adam", opt.beta_1, opt.beta_2, opt.epsilon)
    if opt._slots:
        return ("momentum", opt.momentum, bool(opt.nesterov))
    return ("sgd",)


def _update(rule: tuple[Any, ...], G: Any, slots: tuple[Any, ...], eta: Any) -> Any:
    """The flat update U (θ ← θ + U) and the new state vectors, for the flat gradient G.

    ``eta``: Adam's :math:`\\eta_t` or SGD's :math:`\\eta`, an array of the parameters' dtype.
    """
    jnp = _jax().numpy
    if rule[0] == "adam":
        _, b1, b2, eps = rule
        m, v = slots
        T = G * G  # g ⊙ g
        T = T * (1.0 - b2)
        v = v * b2
        v = v + T  # v ← β₂ v + (1 − β₂) g ⊙ g
        G = G * (1.0 - b1)
        m = m * b1
        m = m + G  # m ← β₁ m + (1 − β₁) g
        D = jnp.sqrt(v) + eps  # √v + ε
        return (m / D) * (-eta), (m, v)  # θ ← θ − η_t m / (√v + ε)
    if rule[0] == "momentum":
        _, mu, nesterov = rule
        (v,) = slots
        G = G * eta  # η g
        v = v * mu
        v = v - G  # v ← μ v − η g
        if not nesterov:
            return v, (v,)
        U = G * (-1.0 / mu)  # θ ← θ + μ v − η g, as μ (v − η g / μ) like the NumPy rule
        U = U + v
        return U * mu, (v,)
    return None, ()  # plain SGD: per parameter, θ ← θ − η g


def _apply(rule: Any, params: list[Any], grads: list[Any], slots: Any, eta: Any) -> Any:
    """New parameters and state after one step (the gradients gathered into one flat vector)."""
    jnp = _jax().numpy
    if rule[0] == "sgd":
        return [p - g * eta for p, g in zip(params, grads)], slots
    G = jnp.concatenate([jnp.reshape(g, (-1,)) for g in grads])
    U, slots = _update(rule, G, slots, eta)
    out, o = [], 0
    for p in params:
        n = math.prod(p.shape)
        out.append(p + jnp.reshape(U[o : o + n], p.shape))
        o += n
    return out, slots


def _apply_each(rule: Any, params: list[Any], grads: list[Any], slots: Any, eta: Any) -> Any:
    """:func:`_apply` with the state as one array per parameter (``slots[s][k]``): the same
    element-wise operations, without gathering the gradients into one vector (XLA fuses each
    parameter's rule into one loop; the gather and the split would be copies)."""
    if rule[0] == "sgd":
        return [p - g * eta for p, g in zip(params, grads)], slots
    out: list[Any] = []
    new: list[list[Any]] = [[] for _ in slots]
    for k, (p, g) in enumerate(zip(params, grads)):
        U, s_k = _update(rule, g, tuple(s[k] for s in slots), eta)
        out.append(p + U)
        for i, v in enumerate(s_k):
            new[i].append(v)
    return out, tuple(new)


def _split_slots(slots: Any, params: list[Any]) -> Any:
    """Flat state vectors as one array per parameter (shapes of W[1], b[1], ...)."""
    jnp = _jax().numpy
    out = []
    for flat in slots:
        parts, o = [], 0
        for p in params:
            n = math.prod(p.shape)
            parts.append(jnp.reshape(flat[o : o + n], p.shape))
            o += n
        out.append(parts)
    return tuple(out)


def _join_slots(slots: Any) -> Any:
    jnp = _jax().numpy
    return tuple(jnp.concatenate([jnp.reshape(a, (-1,)) for a in parts]) for parts in slots)


def _eta(opt: Any, steps: int) -> np.ndarray:
    """The step sizes of the next ``steps`` steps, in float64 as the NumPy rules compute them;
    Adam's step count ``t`` advances."""
    if opt.name != "adam":
        return np.full(steps, opt.lr)
    b1, b2, out = opt.beta_1, opt.beta_2, np.empty(steps)
    for i in range(steps):
        opt.t += 1
        out[i] = opt.lr * math.sqrt(1.0 - b2**opt.t) / (1.0 - b1**opt.t)
    return out


def _prepare(opt: Any, net: Any) -> tuple[list[Any], tuple[Any, ...]]:
    params = [p for pair in zip(net.W, net.b) for p in pair]
    if opt._state is None or len(opt._layout) != len(params):
        opt._init_state(net, params)
    return params, tuple(opt._state[s] for s in opt._slots)


def _store(opt: Any, net: Any, params: list[Any], slots: tuple[Any, ...]) -> None:
    for l in range(net.L):  # already checked arrays of the right shape and dtype
        net.W._items[l], net.b._items[l] = params[2 * l], params[2 * l + 1]
    for s, v in zip(opt._slots, slots):
        opt._state[s] = v


def step(opt: Any, net: Any, dW: Any, db: Any) -> None:
    """``opt.step(net, dW, db)`` for a JAX network: one compiled step, parameters replaced."""
    jax = _jax()
    rule = _rule(opt)
    fn = _cached(("step", rule), lambda: jax.jit(lambda *a: _apply(rule, *a)))
    params, slots = _prepare(opt, net)
    grads = [g for pair in zip(dW, db) for g in pair]
    eta = jax.numpy.asarray(_eta(opt, 1)[0], dtype=net.dtype)
    new, slots = fn(params, grads, slots, eta)
    _store(opt, net, new, slots)


# --- a whole epoch ------------------------------------------------------------------------------


def _epoch_fn(template: Any, rule: Any, n: int, batch_size: int, shuffled: bool) -> Any:
    jax = _jax()
    jnp, lax = jax.numpy, jax.lax
    grads_of = _grad_fn(template)
    L = template.L
    full, rest = divmod(n, batch_size)

    def one(carry: Any, batch: Any) -> Any:
        """One batch: the gradients (Network.backward), the record, the optimiser's step."""
        params, slots, alive = carry
        X, Y, eta = batch
        J, dW, db = grads_of(params[0::2], params[1::2], X, Y)
        sq = jnp.stack([jnp.sum(g * g) for g in dW])  # ||∂J/∂W^[l]||_F², l = 1..L
        alive = [a | (d != 0) for a, d in zip(alive, db[:-1])]
        grads = [g for pair in zip(dW, db) for g in pair]
        params, slots = _apply_each(rule, params, grads, slots, eta)
        return (params, slots, alive), (J, sq)

    def run(params: list[Any], slots: Any, X: Any, Y: Any, perm: Any, etas: Any) -> Any:
        """The epoch: columns in the order ``perm``, ``full`` batches in one scan, then the
        shorter last one."""
        if shuffled:
            X, Y = jnp.take(X, perm, axis=1), jnp.take(Y, perm, axis=1)
        alive = [jnp.zeros((template.sizes[l], 1), bool) for l in range(1, L)]
        carry = (params, _split_slots(slots, params), alive)
        stop = full * batch_size

        def batches(A: Any) -> Any:  # (rows, full * m) -> (full, rows, m)
            return jnp.transpose(
                jnp.reshape(A[:, :stop], (A.shape[0], full, batch_size)), (1, 0, 2)
            )

        Js, sqs = [], []
        if full:
            carry, (J, sq) = lax.scan(one, carry, (batches(X), batches(Y), etas[:full]))
            Js.append(J)
            sqs.append(sq)
        if rest:
            carry, (J, sq) = one(carry, (X[:, stop:], Y[:, stop:], etas[full]))
            Js.append(J[None])
            sqs.append(sq[None])
        params, slots, alive = carry
        return params, _join_slots(slots), alive, jnp.concatenate(Js), jnp.concatenate(sqs)

    return jax.jit(run, donate_argnums=(0, 1))


def epoch(
    net: Any, opt: Any, X: Any, Y: Any, batch_size: int, perm: Any = None
) -> tuple[np.ndarray, np.ndarray, list[Any], list[int]]:
    """Train one epoch over the columns of ``X``, ``Y``, in the order ``perm`` if given.

    The batches are the NumPy loop's, ``X[:, perm][:, s:s + batch_size]``: the full ones in
    one compiled ``lax.scan``, a shorter last one after it, in the same compiled program
    (one per network, rule, ``n`` and batch size). The network's parameters and the
    optimiser's state and step count are updated; the host waits once, for the record.

    Returns
    -------
    J : array (B,)
        Each batch's cost (float64 on the host).
    sq : array (B, L)
        Each batch's :math:`\\lVert \\partial J/\\partial W^{[l]} \\rVert_F^2`.
    alive : list of L−1 boolean arrays (n_l, 1)
        Units of hidden layer l whose :math:`\\partial J/\\partial b^{[l]}` was non-zero in
        some batch (JAX arrays).
    widths : list of int
        Each batch's width m_B.
    """
    jax = _jax()
    jnp = jax.numpy
    rule = _rule(opt)
    n = X.shape[1]
    full, rest = divmod(n, batch_size)
    shuffled = perm is not None
    key = ("epoch", _spec(net), rule, n, batch_size, shuffled)
    fn = _cached(key, lambda: _epoch_fn(_template(net), rule, n, batch_size, shuffled))
    params, slots = _prepare(opt, net)
    # the epoch's own copies: the compiled epoch donates (reuses) the buffers it is given
    params = [jnp.array(p, copy=True) for p in params]
    slots = tuple(jnp.array(s, copy=True) for s in slots)
    etas = jnp.asarray(_eta(opt, full + (1 if rest else 0)), dtype=net.dtype)
    perm = jnp.asarray(np.asarray(perm, dtype=np.int32)) if shuffled else jnp.zeros(0, jnp.int32)
    params, slots, alive, J, sq = fn(params, slots, X, Y, perm, etas)
    _store(opt, net, params, slots)
    widths = [batch_size] * full + ([rest] if rest else [])
    return np.asarray(J, dtype=np.float64), np.asarray(sq, dtype=np.float64), alive, widths


__all__ = ["epoch", "gradients", "step"]
