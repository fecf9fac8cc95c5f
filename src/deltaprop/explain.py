r"""One forward and one backward pass with every number: for the terminal, JSON and the page.

:func:`explain` runs the library's own :meth:`Network.forward_pass` and
:meth:`Network.backward` once on a small batch and keeps every matrix they produce, in the
order a lecture goes through them:

1. forward, l = 1..L: :math:`Z^{[l]} = W^{[l]} A^{[l-1]} + b^{[l]}`,
   :math:`A^{[l]} = g^{[l]}(Z^{[l]})`, then the cost :math:`J`;
2. equation (ii): :math:`\delta^{[L]} = J'(A^{[L]}) \odot g^{[L]\prime}(Z^{[L]})`;
3. equation (i), l = L−1..1: :math:`\delta^{[l]} = g^{[l]\prime}(Z^{[l]}) \odot
   (W^{[l+1]T} \delta^{[l+1]})` with the transposed matrix shown as its own table;
4. the gradients, l = L..1: :math:`\partial J/\partial W^{[l]} = \delta^{[l]} A^{[l-1]T}` and
   :math:`\partial J/\partial b^{[l]} = \delta^{[l]} 1_m`;
5. the check: every gradient entry against central differences of :math:`J`
   (:func:`deltaprop.gradcheck.numerical_gradients`).

Nothing here is a second implementation of the math: Z, A, δ, dW and db are what
``forward_pass``/``backward`` return; the factors shown beside them (:math:`J'(A^{[L]})`,
:math:`g'(Z^{[l]})`, :math:`W^{[l+1]T}\delta^{[l+1]}`) come from the network's own loss and
activation objects, so a reader can multiply them out and find the result.

``numbering="exercise"`` relabels everything the way the exercise numbers layers (the input is
layer 1, so deltaprop's :math:`W^{[l]}` is the exercise's :math:`W^{[l+1]}` and equation (i) runs
over l = L..2 in the exercise's L); the numbers do not change.

``mistakes=True`` adds what each of the exercise's slips gives instead, and by how much it is
wrong: ReLU' = 1 (written max(0, 1) = 1), a missing transpose (in :math:`\delta^{[l]}
A^{[l-1]T}` and in :math:`W^{[l+1]T}\delta^{[l+1]}`) and the bias gradient left unsummed
(:math:`\delta^{[l]}` instead of :math:`\delta^{[l]} 1_m`).

Equations are kept as small token lists (see :func:`equation_text`), so the terminal writes
them as text and :mod:`deltaprop.web.mathml` as MathML from the same source.

>>> from deltaprop.explain import explain
>>> ex = explain()                          # the exercise's 2-3-2-1 network, m = 3, seed 0
>>> [s["id"] for s in ex.steps()][:5]
['forward-1', 'forward-2', 'forward-3', 'cost', 'output-delta']
>>> ex.check["ok"]
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .activations import Activation
from .gradcheck import numerical_gradients, relative_error
from .network import Layers, Network, as_layers

EXERCISE_SIZES = (2, 3, 2, 1)
"""The default shape: 2 inputs, hidden layers of 3 and 2 ReLU units, 1 identity output."""

NUMBERINGS = ("deltaprop", "exercise")

MAX_UNITS = 64
"""The widest layer :func:`explain` takes (it prints every number)."""
MAX_BATCH = 64
"""The largest batch :func:`explain` takes."""

Token = dict[str, Any]


# --- equations as tokens ---------------------------------------------------------------------
# A token is one of
#   {"sym": "W", "layer": "2", "T": True, "prime": False}   W^[2]ᵀ   (layer None: no superscript)
#   {"op": "="}                                              an operator: = + − ⊙ · ×
#   {"group": [tokens]}                                      ( ... )
#   {"grad": token}                                          ∂J/∂W^[2]
#   {"call": token, "args": [tokens]}                        g^[1]'(Z^[1])
#   {"frac": ["2", "m"]}                                     2/m
#   {"ones": "m"}                                            1_m
#   {"text": "..."}                                          plain words


def sym(name: str, layer: Any = None, *, T: bool = False, prime: bool = False) -> Token:
    """A symbol token such as :math:`W^{[2]T}` (``layer`` the label as written, or None)."""
    return {"sym": name, "layer": None if layer is None else str(layer), "T": T, "prime": prime}


def op(o: str) -> Token:
    """An operator token: ``=``, ``+``, ``−``, ``⊙`` (element-wise), ``·`` (matrix product)."""
    return {"op": o}


def call(fn: Token, *args: Token) -> Token:
    """``fn(args)``, e.g. ``call(sym("g", 1, prime=True), sym("Z", 1))``."""
    return {"call": fn, "args": list(args)}


def grad(of: Token) -> Token:
    """:math:`\\partial J/\\partial` ``of``, e.g. ``grad(sym("W", 2))``."""
    return {"grad": of}


def group(*tokens: Token) -> Token:
    """Parentheses around ``tokens``."""
    return {"group": list(tokens)}


_SUPERSCRIPT_T = "ᵀ"


def equation_text(tokens: Sequence[Token]) -> str:
    """Plain-text rendering of a token list: ``Z^[1] = W^[1] A^[0] + b^[1]``."""
    out = []
    for t in tokens:
        if "sym" in t:
            s = t["sym"]
            if t["layer"] is not None:
                s += f"^[{t['layer']}]"
            if t["prime"]:
                s += "'"
            if t["T"]:
                s += _SUPERSCRIPT_T
            out.append(s)
        elif "op" in t:
            out.append(t["op"])
        elif "group" in t:
            out.append("(" + equation_text(t["group"]) + ")")
        elif "call" in t:
            out.append(equation_text([t["call"]]) + "(" + equation_text(t["args"]) + ")")
        elif "grad" in t:
            out.append("∂J/∂" + equation_text([t["grad"]]))
        elif "frac" in t:
            out.append(f"({t['frac'][0]}/{t['frac'][1]})")
        elif "ones" in t:
            out.append(f"1_{t['ones']}")
        elif "text" in t:
            out.append(t["text"])
        else:  # pragma: no cover - a token this module did not build
            raise ValueError(f"unknown equation token {t!r}")
    return " ".join(out)


# --- the explanation -------------------------------------------------------------------------


@dataclass
class Explanation:
    """Every number of one forward and backward pass (see the module docstring).

    Attributes
    ----------
    net : Network
        The network (float64, NumPy).
    X : ndarray of shape (n_0, m)
    Y : ndarray of shape (n_L, m)
    Z, A : list of length L + 1
        ``forward_pass``'s: ``A[0] = X``, ``Z[0] = None``.
    J : float
    delta : Layers
        :math:`\\delta^{[l]}`, l = 1..L, from ``backward``.
    dW, db : Layers
        From ``backward``.
    numbering : {"deltaprop", "exercise"}
    check : dict
        The central-difference reference: ``dW``/``db`` per layer, the worst relative error and
        ``ok``.
    mistakes : list of dict
        Only with ``mistakes=True``: each slip, what it gives and how far that is from the truth.
    feature_names, target_names : list of str
        Row names of X and Y.
    """

    net: Network
    X: np.ndarray
    Y: np.ndarray
    Z: list[Any]
    A: list[Any]
    J: float
    delta: Layers
    dW: Layers
    db: Layers
    numbering: str = "deltaprop"
    seed: Any = None
    check: dict[str, Any] = field(default_factory=dict)
    mistakes: list[dict[str, Any]] = field(default_factory=list)
    feature_names: list[str] = field(default_factory=list)
    target_names: list[str] = field(default_factory=list)

    # --- labels -------------------------------------------------------------------------

    @property
    def L(self) -> int:
        return self.net.L

    @property
    def m(self) -> int:
        return int(self.X.shape[1])

    def label(self, l: int) -> str:
        """How layer ``l`` (deltaprop's number, 0 = input) is written in this numbering."""
        return str(l + (1 if self.numbering == "exercise" else 0))

    def steps(self) -> list[dict[str, Any]]:
        """The steps in lecture order, each a JSON-ready dict.

        Keys: ``id`` (``forward-<l>``, ``cost``, ``output-delta``, ``hidden-delta-<l>``,
        ``gradients-<l>``, ``check``; l deltaprop's layer number), ``phase`` (``forward`` or
        ``backward``), ``layer`` (deltaprop's l or None), ``title``, ``equation`` (tokens),
        ``numbers`` (the equation with its matrices: ``{"op": ...}`` and
        ``{"matrix": {"id", "label", "values", "shape", ...}}`` items, possibly several
        lines), ``units`` (a list of ``{"layer", "kind": "A" | "delta", "values"}`` to colour
        the drawing's units by), ``edges`` (``{"layer", "kind": "W" | "dW", "values"}``: the
        weights to highlight, coloured by W or by ∂J/∂W; ``backward`` when the error flows
        through them) and ``note``.
        """
        return _steps(self)

    def to_dict(self) -> dict[str, Any]:
        """Everything, JSON-ready (``deltaprop explain --json``)."""
        L, lab = self.L, self.label
        net = self.net
        return {
            "network": {
                "sizes": list(net.sizes),
                "hidden": net.hidden.name,
                "output": net.output.name,
                "loss": net.loss.name,
                "L": L,
                "m": self.m,
                "seed": self.seed,
                "numbering": self.numbering,
                "layer_labels": {str(l): lab(l) for l in range(L + 1)},
                "feature_names": list(self.feature_names),
                "target_names": list(self.target_names),
            },
            "X": _values(self.X),
            "Y": _values(self.Y),
            "W": {lab(l): _values(net.W[l]) for l in range(1, L + 1)},
            "b": {lab(l): _values(net.b[l]) for l in range(1, L + 1)},
            "Z": {lab(l): _values(self.Z[l]) for l in range(1, L + 1)},
            "A": {lab(l): _values(self.A[l]) for l in range(L + 1)},
            "J": self.J,
            "delta": {lab(l): _values(self.delta[l]) for l in range(1, L + 1)},
            "dW": {lab(l): _values(self.dW[l]) for l in range(1, L + 1)},
            "db": {lab(l): _values(self.db[l]) for l in range(1, L + 1)},
            "check": _check_json(self),
            "mistakes": self.mistakes,
            "steps": self.steps(),
        }


def _values(a: Any) -> list[list[float]]:
    return np.asarray(a, dtype=np.float64).tolist()


def _check_json(ex: Explanation) -> dict[str, Any]:
    c = ex.check
    return {
        "eps": c["eps"],
        "J": c["J"],
        "dW": {ex.label(l): _values(c["dW"][l]) for l in range(1, ex.L + 1)},
        "db": {ex.label(l): _values(c["db"][l]) for l in range(1, ex.L + 1)},
        "max_rel_error": c["max_rel_error"],
        "layers": [{**row, "layer": ex.label(row["layer"])} for row in c["layers"]],
        "tol": c["tol"],
        "ok": c["ok"],
    }


# --- building it ---------------------------------------------------------------------------


def exercise_network(
    sizes: Sequence[int] = EXERCISE_SIZES,
    m: int = 3,
    *,
    hidden: Any = "relu",
    output: Any = "identity",
    loss: Any = "mse",
    seed: int = 0,
) -> tuple[Network, np.ndarray, np.ndarray]:
    """A small network and batch with short numbers, for reading and projecting.

    The weights are the network's own initialisation (He for ReLU, Glorot otherwise) rounded
    to two decimals; the biases are drawn from N(0, 0.5²) and rounded (zero biases would hide
    how :math:`b^{[l]}` is broadcast over the columns); X and Y are drawn from N(0, 1) and
    rounded to one decimal. Batches where a ReLU would see a pre-activation within 0.01 of its
    kink are drawn again (central differences are wrong at the kink).

    Returns
    -------
    net : Network
    X : ndarray of shape (n_0, m)
    Y : ndarray of shape (n_L, m)
    """
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1:
        raise ValueError(f"m (the batch size) must be an integer >= 1; got {m!r}")
    net = Network(sizes, hidden=hidden, output=output, loss=loss, seed=seed)
    rng = np.random.default_rng(seed)
    for l in range(1, net.L + 1):
        net.W[l] = np.round(net.W[l], 2)
    for _ in range(100):
        for l in range(1, net.L + 1):
            net.b[l] = np.round(rng.normal(0.0, 0.5, size=(net.sizes[l], 1)), 2)
        X = np.round(rng.normal(size=(net.sizes[0], m)), 1)
        Y = _targets(net, rng, m)
        Z, _ = net.forward_pass(X)
        if all(np.min(np.abs(Z[l])) > 0.01 for l in range(1, net.L + 1)):
            break
    return net, X, Y


def _targets(net: Network, rng: np.random.Generator, m: int) -> np.ndarray:
    """Targets that suit the cost: one-hot columns for cross-entropy, 0/1 for binary."""
    n_L = net.sizes[-1]
    if net.loss.name == "cross_entropy":
        return np.eye(n_L)[:, rng.integers(0, n_L, size=m)]
    if net.loss.name == "binary_cross_entropy":
        return rng.integers(0, 2, size=(n_L, m)).astype(np.float64)
    return np.round(rng.normal(size=(n_L, m)), 1)


def explain(
    net: Network | None = None,
    X: Any = None,
    Y: Any = None,
    *,
    sizes: Sequence[int] = EXERCISE_SIZES,
    hidden: Any = "relu",
    output: Any = "identity",
    loss: Any = "mse",
    m: int = 3,
    seed: int = 0,
    numbering: str = "deltaprop",
    mistakes: bool = False,
    eps: float = 1e-5,
    feature_names: Sequence[str] | None = None,
    target_names: Sequence[str] | None = None,
) -> Explanation:
    """One forward and backward pass of a small network, every number kept.

    Parameters
    ----------
    net : Network, optional
        Your own network (copied to float64 NumPy); without it :func:`exercise_network` builds
        one from ``sizes``, ``hidden``, ``output``, ``loss``, ``m`` and ``seed``.
    X : array of shape (n_0, m), optional
        The batch, samples as columns (drawn by :func:`exercise_network` when omitted).
    Y : array of shape (n_L, m), optional
        Its targets (given together with ``X``).
    sizes, hidden, output, loss, m, seed
        The network and batch to draw when ``net`` or ``X`` is omitted.
    numbering : {"deltaprop", "exercise"}, default "deltaprop"
        ``"exercise"`` writes the input as layer 1 (the exercise's numbering).
    mistakes : bool, default False
        Also compute what each of the exercise's slips gives instead.
    eps : float, default 1e-5
        The central-difference step of the check.
    feature_names, target_names : sequence of str, optional
        Row names of X and Y (a CSV's column names).

    Returns
    -------
    Explanation
    """
    if numbering not in NUMBERINGS:
        raise ValueError(f"numbering must be one of {', '.join(NUMBERINGS)}; got {numbering!r}")
    if (X is None) != (Y is None):
        raise ValueError("give X and Y together (or neither, to draw a batch)")
    if net is None:
        drawn, X0, Y0 = exercise_network(
            sizes, m, hidden=hidden, output=output, loss=loss, seed=seed
        )
        net = drawn
        if X is None:
            X, Y = X0, Y0
    else:
        if not isinstance(net, Network):
            raise TypeError(f"net must be a deltaprop Network; got {type(net).__name__}")
        net = net.to("numpy", dtype="float64")
        if X is None:
            rng = np.random.default_rng(seed)
            X = np.round(rng.normal(size=(net.sizes[0], m)), 1)
            Y = _targets(net, rng, m)
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    X, Y = net._check_XY(X, Y)
    _check_small(net, X)

    Z, A = net.forward_pass(X)
    deltas, dW, db = net.backward(Z, A, Y)
    delta = as_layers(deltas, "delta")
    J = float(net.cost(X, Y))

    check = _central_difference_check(net, X, Y, J, dW, db, eps)
    names = list(feature_names) if feature_names is not None else []
    targets = list(target_names) if target_names is not None else []
    ex = Explanation(net, X, Y, Z, A, J, delta, dW, db, numbering, seed, check, [], names, targets)
    if mistakes:
        ex.mistakes = _mistakes(ex)
    return ex


def _check_small(net: Network, X: Any) -> None:
    if max(net.sizes) > MAX_UNITS or X.shape[1] > MAX_BATCH:
        raise ValueError(
            f"explain shows every number, so it takes small networks: at most {MAX_UNITS} units "
            f"per layer and {MAX_BATCH} samples; got sizes {net.sizes} and m = {X.shape[1]}"
        )


def _central_difference_check(
    net: Network, X: Any, Y: Any, J: float, dW: Layers, db: Layers, eps: float
) -> dict[str, Any]:
    """Every entry of dW, db against central differences (gradcheck's relative error)."""
    J_num, dW_num, db_num = numerical_gradients(net, X, Y, eps=eps)
    floor = 1e-4 * max(1.0, abs(J))
    rows = []
    for l in range(1, net.L + 1):
        eW = float(np.max(relative_error(np.asarray(dW[l]), dW_num[l], floor)))
        eb = float(np.max(relative_error(np.asarray(db[l]), db_num[l], floor)))
        rows.append({"layer": l, "max_rel_error_W": eW, "max_rel_error_b": eb})
    worst = max(max(r["max_rel_error_W"], r["max_rel_error_b"]) for r in rows)
    tol = 1e-6
    return {
        "eps": eps,
        "J": J_num,
        "dW": dW_num,
        "db": db_num,
        "layers": rows,
        "max_rel_error": worst,
        "tol": tol,
        "ok": bool(worst <= tol),
    }


# --- the exercise's slips ---------------------------------------------------------------------


def _error_summary(wrong: np.ndarray, true: np.ndarray) -> dict[str, Any]:
    diff = np.abs(wrong - true)
    size = float(np.max(np.abs(true)))  # relative to the largest true entry (some are 0)
    differ = np.argwhere(diff > 1e-12 * max(1.0, size))
    return {
        "wrong": _values(wrong),
        "true": _values(true),
        "max_abs_error": float(np.max(diff)),
        "max_rel_error": float(np.max(diff) / size) if size > 0 else None,
        "entries_differ": len(differ),
        "entries": int(true.size),
    }


def _mistakes(ex: Explanation) -> list[dict[str, Any]]:
    """The exercise's three slips, each with what it gives instead."""
    out: list[dict[str, Any]] = []
    for slip in (_slip_relu_prime_one, _slip_missing_transpose, _slip_bias_unsummed):
        out += slip(ex)
    return out


def _slip_relu_prime_one(ex: Explanation) -> list[dict[str, Any]]:
    net, L, lab = ex.net, ex.L, ex.label
    out: list[dict[str, Any]] = []
    # 1. ReLU' = 1 ("max(0, 1) = 1"): equation (i) with g' = 1 in every hidden layer. The
    #    network's own backward runs with the wrong derivative put in its place.
    if L >= 2 and net.hidden.name in ("relu", "leaky_relu"):
        slipped = net.copy()
        wrong_g = Activation(net.hidden.name, net.hidden.g, np.ones_like)
        slipped.g = Layers([wrong_g] * (L - 1) + [net.output], "g")
        _, dW_w, db_w = slipped.backward(ex.Z, ex.A, ex.Y)
        results = []
        for l in range(1, L + 1):
            for name, wrong, true in (
                (f"dJ/dW^[{lab(l)}]", dW_w[l], ex.dW[l]),
                (f"dJ/db^[{lab(l)}]", db_w[l], ex.db[l]),
            ):
                results.append({"name": name, "layer": lab(l), **_error_summary(wrong, true)})
        out.append(
            {
                "slip": "relu_prime_one",
                "title": "ReLU' written as max(0, 1) = 1",
                "wrong_formula": [sym("g", None, prime=True), op("="), {"text": "1"}],
                "right_formula": [
                    sym("g", None, prime=True),
                    op("="),
                    {"text": "1[z > 0]"},
                ],
                "explanation": "The derivative of max(0, z) is the step 1[z > 0]: 0 where the "
                "unit was off. With g' = 1 every switched-off unit still passes error back, so "
                "every gradient below the output layer is wrong; the output layer's (computed "
                "before equation (i) is used) is not.",
                "results": results,
            }
        )

    return out


def _slip_missing_transpose(ex: Explanation) -> list[dict[str, Any]]:
    net, L, lab = ex.net, ex.L, ex.label
    out: list[dict[str, Any]] = []
    # 2. A missing transpose, in dJ/dW^[l] = δ^[l] A^[l-1]ᵀ and in W^[l+1]ᵀ δ^[l+1].
    results = []
    for l in range(L, 0, -1):
        D, Aprev = np.asarray(ex.delta[l]), np.asarray(ex.A[l - 1])
        entry: dict[str, Any] = {
            "name": f"dJ/dW^[{lab(l)}] = δ^[{lab(l)}] A^[{lab(l - 1)}] (no ᵀ)",
            "layer": lab(l),
            "shapes": [list(D.shape), list(Aprev.shape)],
        }
        if D.shape[1] == Aprev.shape[0]:
            wrong = D @ Aprev
            if wrong.shape == ex.dW[l].shape:
                entry.update(_error_summary(wrong, np.asarray(ex.dW[l])))
            else:
                entry["error"] = (
                    f"the product is defined but has shape {wrong.shape}, not W^[{lab(l)}]'s "
                    f"{ex.dW[l].shape}"
                )
        else:
            entry["error"] = (
                f"undefined: ({D.shape[0]}×{D.shape[1]}) times ({Aprev.shape[0]}×"
                f"{Aprev.shape[1]}) needs {D.shape[1]} = {Aprev.shape[0]}; the transpose makes "
                f"it ({D.shape[0]}×{D.shape[1]})({Aprev.shape[1]}×{Aprev.shape[0]}) = "
                f"{D.shape[0]}×{Aprev.shape[0]}, the shape of W^[{lab(l)}]"
            )
        results.append(entry)
    for l in range(L - 1, 0, -1):
        Wn, Dn = np.asarray(net.W[l + 1]), np.asarray(ex.delta[l + 1])
        entry = {
            "name": f"δ^[{lab(l)}] = g'(Z^[{lab(l)}]) ⊙ (W^[{lab(l + 1)}] δ^[{lab(l + 1)}]) (no ᵀ)",
            "layer": lab(l),
            "shapes": [list(Wn.shape), list(Dn.shape)],
        }
        if Wn.shape[1] == Dn.shape[0] and Wn.shape[0] == ex.delta[l].shape[0]:
            gp = np.asarray(net.g[l].g_prime(ex.Z[l]))
            entry.update(_error_summary(gp * (Wn @ Dn), np.asarray(ex.delta[l])))
        else:
            entry["error"] = (
                f"undefined: W^[{lab(l + 1)}] is {Wn.shape[0]}×{Wn.shape[1]} and "
                f"δ^[{lab(l + 1)}] is {Dn.shape[0]}×{Dn.shape[1]}; W^[{lab(l + 1)}]ᵀ "
                f"({Wn.shape[1]}×{Wn.shape[0]}) maps the error back to the {Wn.shape[1]} units "
                f"of layer {lab(l)}"
            )
        results.append(entry)
    out.append(
        {
            "slip": "missing_transpose",
            "title": "A missing transpose",
            "wrong_formula": [sym("δ", "l"), sym("A", "l−1")],
            "right_formula": [sym("δ", "l"), sym("A", "l−1", T=True)],
            "explanation": "δ^[l] is n_l × m and A^[l−1] is n_(l−1) × m: only with the transpose "
            "is the product defined and n_l × n_(l−1), the shape of W^[l]; each entry then sums "
            "δ_ik A_jk over the m samples. On a square network the product without ᵀ is "
            "defined and silently wrong.",
            "results": results,
        }
    )

    return out


def _slip_bias_unsummed(ex: Explanation) -> list[dict[str, Any]]:
    _net, L, lab = ex.net, ex.L, ex.label
    out: list[dict[str, Any]] = []
    # 3. The bias gradient left unsummed: δ^[l] instead of δ^[l] 1_m.
    results = []
    for l in range(L, 0, -1):
        D = np.asarray(ex.delta[l])
        true = np.asarray(ex.db[l])
        per_col = np.abs(D - true)  # each sample's share against the sum
        results.append(
            {
                "name": f"dJ/db^[{lab(l)}] = δ^[{lab(l)}] (unsummed)",
                "layer": lab(l),
                "shape": list(D.shape),
                "true_shape": list(true.shape),
                "wrong": _values(D),
                "true": _values(true),
                "max_abs_error": float(np.max(per_col)),
                "error": f"shape {D.shape[0]}×{D.shape[1]} (one column per sample), not "
                f"b^[{lab(l)}]'s {true.shape[0]}×1; b^[{lab(l)}] is added to every column of "
                f"Z^[{lab(l)}], so its gradient is the sum over the m = {D.shape[1]} columns",
            }
        )
    out.append(
        {
            "slip": "bias_unsummed",
            "title": "The bias gradient left unsummed",
            "wrong_formula": [sym("δ", "l")],
            "right_formula": [sym("δ", "l"), {"ones": "m"}],
            "explanation": "b^[l] is broadcast over the m columns of Z^[l], so every sample "
            "contributes to ∂J/∂b^[l]: sum δ^[l] over the batch (δ^[l] 1_m).",
            "results": results,
        }
    )
    return out


# --- the steps ---------------------------------------------------------------------------------


def _matrix(
    ex: Explanation,
    key: str,
    label: list[Token],
    value: Any,
    *,
    rows: Sequence[str] | None = None,
    cols: Sequence[str] | None = None,
) -> Token:
    v = np.asarray(value, dtype=np.float64)
    if v.ndim == 1:
        v = v.reshape(-1, 1)
    item: dict[str, Any] = {
        "id": key,
        "label": label,
        "text": equation_text(label),
        "shape": list(v.shape),
        "values": v.tolist(),
    }
    if rows:
        item["rows"] = list(rows)
    if cols:
        item["cols"] = list(cols)
    return {"matrix": item}


def _sample_names(ex: Explanation) -> list[str]:
    return [str(k + 1) for k in range(ex.m)]


def _context(ex: Explanation) -> tuple[Any, ...]:
    """What every step builder uses: net, L, label, Z, A, the sample names, a matrix maker."""

    def M(key: str, label: list[Token], value: Any, **kw: Any) -> Token:
        return _matrix(ex, key, label, value, **kw)

    return ex.net, ex.L, ex.label, ex.Z, ex.A, _sample_names(ex), M


def _steps(ex: Explanation) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    for build in (
        _forward_steps,
        _cost_steps,
        _output_delta_steps,
        _hidden_delta_steps,
        _gradient_steps,
        _check_steps,
    ):
        steps += build(ex)
    return steps


def _forward_steps(ex: Explanation) -> list[dict[str, Any]]:
    """Forward, l = 1..L."""
    net, L, lab, Z, A, samples, M = _context(ex)
    steps: list[dict[str, Any]] = []
    for l in range(1, L + 1):
        g = net.g[l]
        in_rows = ex.feature_names if l == 1 and ex.feature_names else None
        steps.append(
            {
                "id": f"forward-{l}",
                "phase": "forward",
                "layer": l,
                "title": f"Forward, layer {lab(l)}: pre-activation and activation",
                "equation": [
                    sym("Z", lab(l)),
                    op("="),
                    sym("W", lab(l)),
                    sym("A", lab(l - 1)),
                    op("+"),
                    sym("b", lab(l)),
                    {"text": ","},
                    sym("A", lab(l)),
                    op("="),
                    call(sym("g", lab(l)), sym("Z", lab(l))),
                ],
                "numbers": [
                    [
                        M(f"Z{l}", [sym("Z", lab(l))], Z[l], cols=samples),
                        op("="),
                        M(f"W{l}", [sym("W", lab(l))], net.W[l]),
                        M(
                            f"A{l - 1}",
                            [sym("A", lab(l - 1))],
                            A[l - 1],
                            rows=in_rows,
                            cols=samples,
                        ),
                        op("+"),
                        M(f"b{l}", [sym("b", lab(l))], net.b[l]),
                    ],
                    [
                        M(f"A{l}", [sym("A", lab(l))], A[l], cols=samples),
                        op("="),
                        {"text": f"{g.name}"},
                        {"group_open": True},
                        M(f"Z{l}", [sym("Z", lab(l))], Z[l], cols=samples),
                        {"group_close": True},
                    ],
                ],
                "units": [
                    {"layer": l - 1, "kind": "A", "values": _values(A[l - 1])},
                    {"layer": l, "kind": "A", "values": _values(A[l])},
                ],
                "edges": {"layer": l, "kind": "W", "values": _values(net.W[l])},
                "note": (
                    f"W^[{lab(l)}] is {net.sizes[l]}×{net.sizes[l - 1]}, A^[{lab(l - 1)}] is "
                    f"{net.sizes[l - 1]}×{ex.m} (one column per sample); b^[{lab(l)}] "
                    f"({net.sizes[l]}×1) is added to every column. g^[{lab(l)}] = {g.name}"
                    + (" element-wise." if g.elementwise else ", column by column.")
                ),
            }
        )

    return steps


def _cost_steps(ex: Explanation) -> list[dict[str, Any]]:
    """The cost J."""
    net, L, lab, _Z, A, samples, M = _context(ex)
    steps: list[dict[str, Any]] = []
    steps.append(
        {
            "id": "cost",
            "phase": "forward",
            "layer": L,
            "title": f"The cost J ({net.loss.name})",
            "equation": _cost_equation(ex),
            "numbers": [
                [
                    M(f"A{L}", [sym("A", lab(L))], A[L], cols=samples),
                    M("Y", [sym("Y")], ex.Y, rows=ex.target_names or None, cols=samples),
                    op("→"),
                    M("J", [sym("J")], [[ex.J]]),
                ]
            ],
            "units": [{"layer": L, "kind": "A", "values": _values(A[L])}],
            "edges": None,
            "note": _cost_note(ex),
        }
    )

    return steps


def _output_delta_steps(ex: Explanation) -> list[dict[str, Any]]:
    """Equation (ii)."""
    net, L, lab, Z, A, samples, M = _context(ex)
    steps: list[dict[str, Any]] = []
    J_prime = np.asarray(net.loss.J_prime(A[L], ex.Y))
    out = net.output
    numbers_ii: list[Token] = [M(f"delta{L}", [sym("δ", lab(L))], ex.delta[L], cols=samples)]
    if out.elementwise:
        numbers_ii += [
            op("="),
            M("Jprime", [call(sym("J", None, prime=True), sym("A", lab(L)))], J_prime),
            op("⊙"),
            M(
                f"gprime{L}",
                [call(sym("g", lab(L), prime=True), sym("Z", lab(L)))],
                out.g_prime(Z[L]),
            ),
        ]
        eq_ii = [
            sym("δ", lab(L)),
            op("="),
            call(sym("J", None, prime=True), sym("A", lab(L))),
            op("⊙"),
            call(sym("g", lab(L), prime=True), sym("Z", lab(L))),
        ]
        note_ii = "Equation (ii): the derivative of the cost with respect to the output, entry by "
        note_ii += "entry (not summed over outputs), times the output activation's derivative."
        if out.name == "identity" and net.loss.name == "mse":
            note_ii += f" With identity and MSE, g' = 1 and δ^[{lab(L)}] = (2/m)(A^[{lab(L)}] − Y)."
    else:
        numbers_ii += [
            op("="),
            {"text": "(diag(a) − a aᵀ) ·"},
            M("Jprime", [call(sym("J", None, prime=True), sym("A", lab(L)))], J_prime),
            {"text": "column by column"},
        ]
        eq_ii = [
            sym("δ", lab(L)),
            op("="),
            {"text": "(∂a/∂z)ᵀ"},
            call(sym("J", None, prime=True), sym("A", lab(L))),
        ]
        note_ii = (
            f"Equation (ii) for {out.name}, which is not element-wise: each column of J' is "
            "multiplied by the transposed Jacobian diag(a) − a aᵀ of its own column a."
        )
    steps.append(
        {
            "id": "output-delta",
            "phase": "backward",
            "layer": L,
            "title": f"Equation (ii): the output layer's error δ^[{lab(L)}]",
            "equation": eq_ii,
            "numbers": [numbers_ii],
            "units": [{"layer": L, "kind": "delta", "values": _values(ex.delta[L])}],
            "edges": None,
            "note": note_ii,
        }
    )

    return steps


def _hidden_delta_steps(ex: Explanation) -> list[dict[str, Any]]:
    """Equation (i), l = L−1..1."""
    net, L, lab, Z, _A, samples, M = _context(ex)
    steps: list[dict[str, Any]] = []
    for l in range(L - 1, 0, -1):
        WT = np.asarray(net.W[l + 1]).T
        back = WT @ np.asarray(ex.delta[l + 1])
        steps.append(
            {
                "id": f"hidden-delta-{l}",
                "phase": "backward",
                "layer": l,
                "title": f"Equation (i): layer {lab(l)}'s error from layer {lab(l + 1)}'s",
                "equation": [
                    sym("δ", lab(l)),
                    op("="),
                    call(sym("g", lab(l), prime=True), sym("Z", lab(l))),
                    op("⊙"),
                    group(sym("W", lab(l + 1), T=True), sym("δ", lab(l + 1))),
                ],
                "numbers": [
                    [
                        M(
                            f"WT_delta{l}",
                            [sym("W", lab(l + 1), T=True), sym("δ", lab(l + 1))],
                            back,
                            cols=samples,
                        ),
                        op("="),
                        M(f"W{l + 1}T", [sym("W", lab(l + 1), T=True)], WT),
                        M(f"delta{l + 1}", [sym("δ", lab(l + 1))], ex.delta[l + 1], cols=samples),
                    ],
                    [
                        M(f"delta{l}", [sym("δ", lab(l))], ex.delta[l], cols=samples),
                        op("="),
                        M(
                            f"gprime{l}",
                            [call(sym("g", lab(l), prime=True), sym("Z", lab(l)))],
                            net.g[l].g_prime(Z[l]),
                            cols=samples,
                        ),
                        op("⊙"),
                        M(
                            f"WT_delta{l}",
                            [sym("W", lab(l + 1), T=True), sym("δ", lab(l + 1))],
                            back,
                            cols=samples,
                        ),
                    ],
                ],
                "units": [
                    {"layer": l + 1, "kind": "delta", "values": _values(ex.delta[l + 1])},
                    {"layer": l, "kind": "delta", "values": _values(ex.delta[l])},
                ],
                "edges": {
                    "layer": l + 1,
                    "kind": "W",
                    "values": _values(net.W[l + 1]),
                    "backward": True,
                },
                "note": (
                    f"W^[{lab(l + 1)}] is {net.sizes[l + 1]}×{net.sizes[l]}; its transpose "
                    f"({net.sizes[l]}×{net.sizes[l + 1]}) carries the {net.sizes[l + 1]} errors "
                    f"of layer {lab(l + 1)} back to the {net.sizes[l]} units of layer {lab(l)}. "
                    f"⊙ multiplies entry by entry: g^[{lab(l)}]' = {_g_prime_words(net.g[l])}."
                ),
            }
        )

    return steps


def _gradient_steps(ex: Explanation) -> list[dict[str, Any]]:
    """The gradients, l = L..1."""
    net, L, lab, _Z, A, samples, M = _context(ex)
    steps: list[dict[str, Any]] = []
    for l in range(L, 0, -1):
        in_cols = ex.feature_names if l == 1 and ex.feature_names else None
        steps.append(
            {
                "id": f"gradients-{l}",
                "phase": "backward",
                "layer": l,
                "title": f"Gradients of layer {lab(l)}",
                "equation": [
                    grad(sym("W", lab(l))),
                    op("="),
                    sym("δ", lab(l)),
                    sym("A", lab(l - 1), T=True),
                    {"text": ","},
                    grad(sym("b", lab(l))),
                    op("="),
                    sym("δ", lab(l)),
                    {"ones": "m"},
                ],
                "numbers": [
                    [
                        M(f"dW{l}", [grad(sym("W", lab(l)))], ex.dW[l], cols=in_cols),
                        op("="),
                        M(f"delta{l}", [sym("δ", lab(l))], ex.delta[l], cols=samples),
                        M(
                            f"A{l - 1}T",
                            [sym("A", lab(l - 1), T=True)],
                            np.asarray(A[l - 1]).T,
                            rows=samples,
                            cols=in_cols,
                        ),
                    ],
                    [
                        M(f"db{l}", [grad(sym("b", lab(l)))], ex.db[l]),
                        op("="),
                        M(f"delta{l}", [sym("δ", lab(l))], ex.delta[l], cols=samples),
                        M("ones", [{"ones": "m"}], np.ones((ex.m, 1)), rows=samples),
                    ],
                ],
                "units": [
                    {"layer": l - 1, "kind": "A", "values": _values(A[l - 1])},
                    {"layer": l, "kind": "delta", "values": _values(ex.delta[l])},
                ],
                "edges": {"layer": l, "kind": "dW", "values": _values(ex.dW[l])},
                "note": (
                    f"Each entry of ∂J/∂W^[{lab(l)}] sums δ^[{lab(l)}]_ik A^[{lab(l - 1)}]_jk over "
                    f"the m = {ex.m} samples: the transpose makes the shapes "
                    f"({net.sizes[l]}×{ex.m})({ex.m}×{net.sizes[l - 1]}) = "
                    f"{net.sizes[l]}×{net.sizes[l - 1]}, the shape of W^[{lab(l)}]. "
                    f"∂J/∂b^[{lab(l)}] is δ^[{lab(l)}] summed over the batch (row sums)."
                ),
            }
        )

    return steps


def _check_steps(ex: Explanation) -> list[dict[str, Any]]:
    """The check against central differences."""
    _net, L, lab, _Z, _A, _samples, M = _context(ex)
    steps: list[dict[str, Any]] = []
    c = ex.check
    lines = []
    for l in range(L, 0, -1):
        lines.append(
            [
                M(f"dW{l}", [grad(sym("W", lab(l)))], ex.dW[l]),
                op("≈"),
                M(f"num_dW{l}", [{"text": "central differences"}], c["dW"][l]),
                M(f"db{l}", [grad(sym("b", lab(l)))], ex.db[l]),
                op("≈"),
                M(f"num_db{l}", [{"text": "central differences"}], c["db"][l]),
            ]
        )
    steps.append(
        {
            "id": "check",
            "phase": "backward",
            "layer": None,
            "title": "Check: back-propagation against central differences",
            "equation": [
                {"text": "∂J/∂θ ≈ (J(θ + ε) − J(θ − ε)) / 2ε"},
                {"text": ","},
                {"text": f"ε = {c['eps']:g}"},
            ],
            "numbers": lines,
            "units": [],
            "edges": None,
            "note": (
                f"Every entry of every W^[l] and b^[l] nudged by ±ε, J recomputed: the largest "
                f"relative error is {c['max_rel_error']:.1e} "
                + ("(agreement)." if c["ok"] else f"(over {c['tol']:g}: they disagree).")
            ),
        }
    )
    return steps


def _g_prime_words(g: Activation) -> str:
    return {
        "relu": "1 where Z > 0, else 0 (the step, not 1 everywhere)",
        "identity": "1",
        "sigmoid": "σ(Z)(1 − σ(Z))",
        "tanh": "1 − tanh²(Z)",
        "leaky_relu": f"1 where Z > 0, else {g.params.get('slope', 0.01):g}",
        "softplus": "σ(Z)",
        "elu": "1 where Z > 0, else e^Z",
    }.get(g.name, "the derivative of g, entry by entry")


def _cost_equation(ex: Explanation) -> list[Token]:
    name = ex.net.loss.name
    if name == "mse":
        return [
            sym("J"),
            op("="),
            {"frac": ["1", "m"]},
            {"text": "Σᵢ ‖yᵢ − aᵢ‖²"},
        ]
    if name == "cross_entropy":
        return [sym("J"), op("="), op("−"), {"frac": ["1", "m"]}, {"text": "Σᵢ Σⱼ yⱼᵢ log aⱼᵢ"}]
    if name == "binary_cross_entropy":
        return [
            sym("J"),
            op("="),
            op("−"),
            {"frac": ["1", "m"]},
            {"text": "Σᵢ Σⱼ [yⱼᵢ log aⱼᵢ + (1 − yⱼᵢ) log(1 − aⱼᵢ)]"},
        ]
    return [sym("J"), op("="), {"text": f"{name}(A, Y)"}]


def _cost_note(ex: Explanation) -> str:
    J = ex.J
    if ex.net.loss.name == "mse":
        return (
            f"Squared errors summed over the outputs, averaged over the m = {ex.m} samples: "
            f"J = {_short(J)}."
        )
    return f"J = {_short(J)}."


def _short(x: float) -> str:
    if x == 0 or not math.isfinite(x):
        return str(x)
    return f"{x:.6g}"


# --- the terminal --------------------------------------------------------------------------------


def format_number(x: float, digits: int = 4) -> str:
    """A matrix entry as printed: ``digits`` significant digits, no exponent for ordinary sizes."""
    if x == 0:
        return "0"
    if not math.isfinite(x):
        return str(x)
    ordinary = 1e-3 <= abs(x) < 1e5
    s = f"{x:.{digits}g}" if ordinary else f"{x:.{max(digits - 1, 1)}e}"
    return s.replace("-", "−")


def slip_result_text(r: dict[str, Any]) -> str:
    """One line for one result of a slip: how many entries are wrong and by how much, or why
    the formula is not even defined."""
    if "entries_differ" not in r:
        return str(r.get("error", ""))
    if not r["entries_differ"]:
        return "the same numbers: this slip does not reach this gradient"
    relative = "" if r["max_rel_error"] is None else f" (relative {r['max_rel_error']:.3g})"
    return (
        f"{r['entries_differ']} of {r['entries']} entries wrong; largest error "
        f"{r['max_abs_error']:.3g}{relative}"
    )


def render(ex: Explanation, console: Any = None) -> None:
    """Print every step with rich tables of its matrices (shapes in the headings).

    Names from the data (a CSV's columns) are escaped, so ``[bold]`` in a column name prints as
    written.
    """
    from rich.console import Console

    from ._safetext import markup as escape

    console = console or Console()
    net = ex.net
    head = (
        f"deltaprop explain: {'-'.join(map(str, net.sizes))} network, hidden {net.hidden.name}, "
        f"output {net.output.name}, cost {net.loss.name}, m = {ex.m} samples as columns"
    )
    if ex.numbering == "exercise":
        head += "; exercise numbering (the input is layer 1)"
    console.print(escape(head), style="bold")
    for k, step in enumerate(ex.steps(), 1):
        _render_step(console, k, step)
    for slip in ex.mistakes:
        _render_slip(console, slip)


def _rich_matrix(item: dict[str, Any]) -> Any:
    from rich import box
    from rich.table import Table

    from ._safetext import markup as escape

    rows, cols = item["shape"]
    t = Table(
        title=escape(f"{item['text']}  ({rows}×{cols})"),
        show_header=bool(item.get("cols")),
        box=None if rows * cols == 1 else box.SQUARE,
        pad_edge=False,
    )
    if item.get("rows"):
        t.add_column("", style="dim")
    for name in item.get("cols") or [""] * cols:
        t.add_column(escape(str(name)), justify="right")
    for i, row in enumerate(item["values"]):
        cells = [format_number(v) for v in row]
        if item.get("rows"):
            cells = [escape(str(item["rows"][i])), *cells]
        t.add_row(*cells)
    return t


def _render_step(console: Any, k: int, step: dict[str, Any]) -> None:
    from rich.rule import Rule
    from rich.table import Table

    from ._safetext import markup as escape

    console.print(Rule(escape(f"{k}. {step['title']}"), align="left"))
    console.print(escape(equation_text(step["equation"])), style="bold cyan")
    for line in step["numbers"]:
        grid = Table.grid(padding=(0, 1))
        cells: list[Any] = []
        for item in line:
            if "matrix" in item:
                cells.append(_rich_matrix(item["matrix"]))
            elif "op" in item:
                cells.append(escape(item["op"]))
            elif "text" in item:
                cells.append(escape(item["text"]))
            elif "group_open" in item or "group_close" in item:
                cells.append("(" if "group_open" in item else ")")
        for _ in cells:
            grid.add_column(vertical="middle")
        grid.add_row(*cells)
        console.print(grid)
    if step.get("note"):
        console.print(escape(step["note"]), style="dim")


def _render_slip(console: Any, slip: dict[str, Any]) -> None:
    from rich.rule import Rule
    from rich.table import Table

    from ._safetext import markup as escape

    console.print(Rule(escape(f"Slip: {slip['title']}"), align="left", style="red"))
    wrong, right = equation_text(slip["wrong_formula"]), equation_text(slip["right_formula"])
    console.print(escape(f"wrong: {wrong}    right: {right}"))
    console.print(escape(slip["explanation"]), style="dim")
    t = Table(show_header=True)
    t.add_column("formula")
    t.add_column("what it gives")
    for r in slip["results"]:
        t.add_row(escape(r["name"]), escape(slip_result_text(r)))
    console.print(t)


__all__ = [
    "EXERCISE_SIZES",
    "Explanation",
    "equation_text",
    "exercise_network",
    "explain",
    "format_number",
    "render",
    "slip_result_text",
]
