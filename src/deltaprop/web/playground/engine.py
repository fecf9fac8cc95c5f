r"""One playground session: its data, its :class:`~deltaprop.network.Network`, its optimiser.

The engine is deltaprop's own: every training step is ``net.gradients(X_b, Y_b)`` (the fast
path, proven equal to :meth:`Network.backward`) followed by the optimiser's ``step``; a step
in *step mode* runs :meth:`Network.forward_pass` and :meth:`Network.backward` instead, so that
the page can show Z, A, δ, ∂J/∂W and ∂J/∂b of that very batch, and then applies the same
optimiser step with those gradients. Nothing here knows about the web; the server
(:mod:`deltaprop.web.playground.server`) calls it from worker threads, one session at a time.

Samples are columns, as everywhere in deltaprop. Inputs are standardised with the training
split's means and deviations (targets too, for regression); the exported model file stores
that :class:`~deltaprop.data.Standardization`, so ``dp.load_model(...).predict`` and
``deltaprop predict`` work in the data's own units.

Every setting is validated by :func:`validate_settings` against :data:`LIMITS`; a bad value
raises :class:`SettingsError` naming the field, which the server sends to the page.
"""

from __future__ import annotations

import base64
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ... import io
from ...data import Labels, Standardization
from ...network import Network
from ...optim import SGD, Adam, Optimizer
from . import datasets

LIMITS: dict[str, Any] = {
    "max_hidden_layers": 6,
    "max_width": 16,
    "min_samples": 10,
    "max_samples": 1000,
    "max_batch_size": 256,
    "max_steps_per_second": 2000,
    "min_lr": 1e-5,
    "max_lr": 10.0,
    "max_alpha": 1.0,
    "max_seed": 2**31 - 1,
    "max_test_fraction": 0.5,
    "step_batch": 16,
    "history_points": 400,
    "grid": 48,
    "curve_points": 200,
}
"""The bounds every session lives within (sent to the page, which uses them in its inputs)."""

HIDDEN_ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "elu", "softplus", "identity")
OUTPUT_ACTIVATIONS = ("sigmoid", "identity", "tanh")
LOSSES = ("mse", "binary_cross_entropy")
OPTIMIZERS = ("sgd", "momentum", "adam")
DATASETS = (*datasets.CLASSIFICATION, *datasets.REGRESSION, "csv")


LIVE_SETTINGS = ("lr", "speed")
"""Settings that change while training goes on; any other change starts again from step 0."""


class SettingsError(ValueError):
    """A setting out of its bounds or of the wrong type; the message names the field."""


@dataclass
class Settings:
    """What the page's controls choose. Defaults: two moons, 2 hidden layers of 6 ReLUs."""

    dataset: str = "moons"
    samples: int = 300
    noise: float = 0.2
    test_fraction: float = 0.3
    hidden: list[int] = field(default_factory=lambda: [6, 6])
    activation: str = "relu"
    output: str = "sigmoid"
    loss: str = "binary_cross_entropy"
    optimizer: str = "adam"
    lr: float = 0.03
    batch_size: int = 16
    alpha: float = 0.0
    seed: int = 0
    speed: int = 200  # training steps per second while playing


def _int(raw: Any, name: str, low: int, high: int) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise SettingsError(f"{name} must be an integer in [{low}, {high}]; got {_shown(raw)}")
    if not low <= raw <= high:
        raise SettingsError(f"{name} must be in [{low}, {high}]; got {raw}")
    return int(raw)


def _float(raw: Any, name: str, low: float, high: float) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise SettingsError(f"{name} must be a number in [{low:g}, {high:g}]; got {_shown(raw)}")
    v = float(raw)
    if not math.isfinite(v) or not low <= v <= high:
        raise SettingsError(f"{name} must be a number in [{low:g}, {high:g}]; got {_shown(raw)}")
    return v


def _choice(raw: Any, name: str, choices: tuple[str, ...]) -> str:
    if not isinstance(raw, str) or raw not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}; got {_shown(raw)}")
    return raw


def _shown(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def validate_settings(raw: Any, base: Settings | None = None) -> Settings:
    """``raw`` (a JSON object from the page) checked field by field over ``base``'s values.

    Unknown fields, wrong types and values out of :data:`LIMITS` raise :class:`SettingsError`.
    Pairings the engine cannot train are refused too: binary cross-entropy needs a sigmoid
    output and labels 0/1 (a classification set).
    """
    if not isinstance(raw, dict):
        raise SettingsError(f"settings must be an object; got {type(raw).__name__}")
    s = asdict(base or Settings())
    unknown = sorted(set(raw) - set(s))
    if unknown:
        raise SettingsError(f"unknown setting {_shown(unknown[0])}; known: {', '.join(s)}")
    s.update(raw)
    lim = LIMITS
    hidden = s["hidden"]
    if not isinstance(hidden, list) or len(hidden) > lim["max_hidden_layers"]:
        raise SettingsError(
            f"hidden must be a list of at most {lim['max_hidden_layers']} layer widths; "
            f"got {_shown(hidden)}"
        )
    out = Settings(
        dataset=_choice(s["dataset"], "dataset", DATASETS),
        samples=_int(s["samples"], "samples", lim["min_samples"], lim["max_samples"]),
        noise=_float(s["noise"], "noise", 0.0, 1.0),
        test_fraction=_float(s["test_fraction"], "test_fraction", 0.0, lim["max_test_fraction"]),
        hidden=[_int(n, f"hidden[{i}]", 1, lim["max_width"]) for i, n in enumerate(hidden)],
        activation=_choice(s["activation"], "activation", HIDDEN_ACTIVATIONS),
        output=_choice(s["output"], "output", OUTPUT_ACTIVATIONS),
        loss=_choice(s["loss"], "loss", LOSSES),
        optimizer=_choice(s["optimizer"], "optimizer", OPTIMIZERS),
        lr=_float(s["lr"], "lr", lim["min_lr"], lim["max_lr"]),
        batch_size=_int(s["batch_size"], "batch_size", 1, lim["max_batch_size"]),
        alpha=_float(s["alpha"], "alpha", 0.0, lim["max_alpha"]),
        seed=_int(s["seed"], "seed", 0, lim["max_seed"]),
        speed=_int(s["speed"], "speed", 1, lim["max_steps_per_second"]),
    )
    if out.loss == "binary_cross_entropy" and out.output != "sigmoid":
        raise SettingsError(
            "loss binary_cross_entropy needs output sigmoid (its outputs must be probabilities "
            "in (0, 1)); choose output sigmoid or loss mse"
        )
    return out


@dataclass
class Data:
    """A session's data set: raw columns, the split and the standardised training arrays."""

    kind: str  # "classification" | "regression"
    X_train: np.ndarray  # raw, (n_0, m_train)
    Y_train: np.ndarray  # raw, (1, m_train)
    X_test: np.ndarray
    Y_test: np.ndarray
    std: Standardization
    domain: tuple[float, float, float, float]  # x0, x1, y0, y1 of the drawing

    def scaled(self, part: str) -> tuple[np.ndarray, np.ndarray]:
        X, Y = (self.X_train, self.Y_train) if part == "train" else (self.X_test, self.Y_test)
        return self.std.transform_X(X), self.std.transform_Y(Y)


def make_data(s: Settings, csv: tuple[str, np.ndarray, np.ndarray] | None) -> Data:
    """The data the settings choose (``csv``: the user's upload, for ``dataset="csv"``)."""
    if s.dataset == "csv":
        if csv is None:
            raise SettingsError("dataset csv: upload a CSV file first")
        kind, X, Y = csv
    else:
        kind = datasets.kind_of(s.dataset)
        X, Y = datasets.generate(s.dataset, s.samples, s.noise, s.seed)
    if kind == "regression" and s.loss == "binary_cross_entropy":
        raise SettingsError(
            "loss binary_cross_entropy needs labels 0/1: choose a classification data set or "
            "loss mse for a regression curve"
        )
    X_tr, Y_tr, X_te, Y_te = datasets.split(X, Y, s.test_fraction, s.seed)
    std = Standardization.fit(X_tr) if kind == "classification" else Standardization.fit(X_tr, Y_tr)
    lo, hi = X.min(axis=1), X.max(axis=1)
    pad = 0.1 * np.maximum(hi - lo, 1e-9)
    if kind == "classification":
        domain = (lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1])
    else:
        ypad = 0.15 * max(float(Y.max() - Y.min()), 1e-9)
        domain = (lo[0] - pad[0], hi[0] + pad[0], float(Y.min()) - ypad, float(Y.max()) + ypad)
    return Data(kind, X_tr, Y_tr, X_te, Y_te, std, tuple(float(v) for v in domain))  # type: ignore[arg-type]


def _optimizer(s: Settings) -> Optimizer:
    if s.optimizer == "adam":
        return Adam(lr=s.lr)
    if s.optimizer == "momentum":
        return SGD(lr=s.lr, momentum=0.9)
    return SGD(lr=s.lr)


def _listed(a: np.ndarray, digits: int | None = None) -> Any:
    a = np.asarray(a, dtype=np.float64)
    if digits is not None:
        a = np.round(a, digits)
    return a.tolist()


class Session:
    """A training session: settings, data, network, optimiser and what was measured so far.

    Not thread-safe: the server calls one method at a time per session.
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.csv: tuple[str, np.ndarray, np.ndarray] | None = None
        self.settings = settings or Settings()
        self.reset()

    # --- building ----------------------------------------------------------------------------

    def configure(self, raw: Any) -> Settings:
        """Apply the page's settings (validated over the current ones) and reset training.

        A refused setting raises :class:`SettingsError` and leaves the session as it was."""
        s = validate_settings(raw, self.settings)
        if self.live_change(s):  # the learning rate or the speed: training goes on
            self.settings = s
            self.opt.lr = s.lr
            return s
        data = make_data(s, self.csv)
        self.settings = s
        self.reset(data)
        return s

    def live_change(self, s: Settings) -> bool:
        """Whether ``s`` differs from the current settings only in :data:`LIVE_SETTINGS`."""
        old, new = asdict(self.settings), asdict(s)
        return all(old[k] == new[k] for k in old if k not in LIVE_SETTINGS)

    def upload_csv(self, text: Any) -> Settings:
        """Use the user's CSV text (see :func:`datasets.parse_csv`) as the data set."""
        if not isinstance(text, str):
            raise SettingsError("csv must be the file's text")
        parsed = datasets.parse_csv(text)
        kind = parsed[0]
        raw: dict[str, Any] = {"dataset": "csv"}
        if kind == "regression" and self.settings.loss == "binary_cross_entropy":
            raw.update(output="identity", loss="mse")
        if kind == "classification" and self.settings.dataset in datasets.REGRESSION:
            raw.update(output="sigmoid", loss="binary_cross_entropy")
        s = validate_settings(raw, self.settings)
        data = make_data(s, parsed)
        self.csv, self.settings = parsed, s
        self.reset(data)
        return s

    def reset(self, data: Data | None = None) -> None:
        """New data (from the settings, unless given) and a network with fresh weights; step 0."""
        s = self.settings
        self.data = make_data(s, self.csv) if data is None else data
        sizes = [self.data.X_train.shape[0], *s.hidden, 1]
        self.net = Network(
            sizes, hidden=s.activation, output=s.output, loss=s.loss, seed=s.seed, alpha=s.alpha
        )
        self.opt = _optimizer(s)
        self.X, self.Y = self.data.scaled("train")
        self.X_test, self.Y_test = self.data.scaled("test")
        self.rng = np.random.default_rng(s.seed + 2)
        self.order = np.empty(0, dtype=np.int64)  # this epoch's shuffled sample order
        self.pos = 0
        self.steps = 0
        self.epoch = 0
        self.last_batch = np.arange(min(s.batch_size, self.X.shape[1]))
        self.grad_norms: list[float] = [0.0] * self.net.L
        self.history: dict[str, list[Any]] = {"step": [], "train": [], "test": []}
        self._record()

    # --- training ----------------------------------------------------------------------------

    def _next_batch(self) -> np.ndarray:
        m = self.X.shape[1]
        bs = min(self.settings.batch_size, m)
        if self.pos + bs > len(self.order):
            if len(self.order):
                self.epoch += 1
            self.order = self.rng.permutation(m)
            self.pos = 0
        idx = self.order[self.pos : self.pos + bs]
        self.pos += bs
        return idx

    def train(self, n: int, deadline: float | None = None) -> int:
        """Up to ``n`` steps (``net.gradients`` then the optimiser's step); stops early at
        ``deadline`` (a ``time.perf_counter()`` value). Returns the number of steps taken."""
        with np.errstate(all="ignore"):  # divergence shows as a non-finite cost in the frame
            return self._train(n, deadline)

    def _train(self, n: int, deadline: float | None) -> int:
        done = 0
        while done < n:
            last = done == n - 1 or (deadline is not None and time.perf_counter() > deadline)
            idx = self._next_batch()
            _, dW, db = self.net.gradients(self.X[:, idx], self.Y[:, idx])
            self._step(idx, dW, db, norms=last)
            done += 1
            if last:
                break
        return done

    def _step(self, idx: np.ndarray, dW: Any, db: Any, norms: bool = True) -> None:
        if norms:  # (before the step: it may use dW as scratch)
            self.grad_norms = [float(np.linalg.norm(g)) for g in dW]
        self.opt.step(self.net, dW, db)
        self.last_batch = idx
        self.steps += 1

    def step_detail(self) -> dict[str, Any]:
        """One step in step mode, keeping every number of its forward and backward pass.

        The batch is the next one of the epoch, cut to at most ``LIMITS["step_batch"]``
        samples so that every matrix fits on the screen. :func:`deltaprop.explain.explain`
        runs :meth:`Network.forward_pass` and :meth:`Network.backward` on it (and the central
        differences check) and :func:`deltaprop.web.explain_page.page_data` adds the MathML:
        the explain page's data, for its stepper. Then the optimiser applies exactly those
        gradients ∂J/∂W, ∂J/∂b.

        Returns ``{"type": "step", "step", "m", "indices", "explain"}``: ``step`` counted
        after this one, ``indices`` the batch's columns of the (standardised) training data.
        """
        from ...explain import explain
        from ..explain_page import page_data

        idx = self._next_batch()[: LIMITS["step_batch"]]
        Xb, Yb = self.X[:, idx], self.Y[:, idx]
        features = ["x₁", "x₂"] if self.data.kind == "classification" else ["x"]
        ex = explain(self.net, Xb, Yb, feature_names=features, target_names=["y"])
        data = page_data(ex)
        self._step(
            idx,
            [ex.dW[l].copy() for l in range(1, self.net.L + 1)],
            [ex.db[l].copy() for l in range(1, self.net.L + 1)],
        )
        self._record()
        return {
            "type": "step",
            "step": self.steps,
            "m": len(idx),
            "indices": [int(i) for i in idx],
            "explain": data,
        }

    # --- what the page shows -----------------------------------------------------------------

    def _outputs(self) -> tuple[list[Any], Any]:
        """The forward pass over the training split (every A^[l]) and the test output."""
        _, A_train = self.net.forward_pass(self.X)
        A_test = self.net.forward(self.X_test) if self.X_test.shape[1] else None
        return A_train, A_test

    def _record(self, outputs: tuple[list[Any], Any] | None = None) -> None:
        A_train, A_test = outputs or self._outputs()
        loss = self.net.loss
        train = float(loss.J(A_train[self.net.L], self.Y))
        test = None if A_test is None else float(loss.J(A_test, self.Y_test))
        h = self.history
        if h["step"] and h["step"][-1] == self.steps:
            h["train"][-1], h["test"][-1] = train, test
            return
        h["step"].append(self.steps)
        h["train"].append(train)
        h["test"].append(test)
        if len(h["step"]) > LIMITS["history_points"]:  # thin out: keep every other, and the last
            for key in h:
                h[key] = h[key][:-1:2] + h[key][-1:]

    def predict_raw(self, X_raw: np.ndarray) -> np.ndarray:
        """The network's output for raw inputs ``X_raw`` (n_0, m), in the targets' units."""
        A = self.net.forward(self.data.std.transform_X(X_raw))
        return self.data.std.inverse_transform_Y(A)

    def grid(self) -> tuple[np.ndarray, np.ndarray]:
        """The raw input points of the drawing: a G×G grid (classification, row by row from the
        top) or ``curve_points`` x values (regression), and the predictions there."""
        x0, x1, y0, y1 = self.data.domain
        if self.data.kind == "classification":
            G = LIMITS["grid"]
            gx = np.linspace(x0, x1, G)
            gy = np.linspace(y1, y0, G)  # top row first, as an image
            P = np.stack([np.tile(gx, G), np.repeat(gy, G)])
        else:
            P = np.linspace(x0, x1, LIMITS["curve_points"])[None, :]
        return P, self.predict_raw(P)

    def frame(self) -> dict[str, Any]:
        """Everything the live views need now, as a JSON-ready dict (a few kB).

        A diverged network gives NaN or infinite numbers here, without floating-point
        warnings; the server sees them when it encodes the frame and tells the page."""
        with np.errstate(all="ignore"):
            return self._frame()

    def _frame(self) -> dict[str, Any]:
        net, d = self.net, self.data
        A_train, A_test = self._outputs()
        self._record((A_train, A_test))
        h = self.history
        P, out = self.grid()
        view: dict[str, Any]
        if d.kind == "classification":
            v = np.clip(out[0], 0.0, 1.0)
            view = {
                "grid": LIMITS["grid"],
                "values": base64.b64encode(np.round(v * 255).astype(np.uint8).tobytes()).decode(),
            }
        else:
            view = {"x": _listed(P[0]), "y": _listed(out[0], 6)}
        # units coloured by their mean activation and mean δ over the last batch
        idx = self.last_batch
        Z, A = net.forward_pass(self.X[:, idx])
        delta, _, _ = net.backward(Z, A, self.Y[:, idx])
        dead = [
            float(np.mean(np.all(A_train[l] <= 0, axis=1))) if net.g[l].name == "relu" else None
            for l in range(1, net.L)
        ]
        accuracy = None
        if d.kind == "classification":  # labels 0/1: the output is read at 0.5
            accuracy = {
                "train": float(np.mean((A_train[net.L] > 0.5) == (self.Y > 0.5))),
                "test": None
                if A_test is None
                else float(np.mean((A_test > 0.5) == (self.Y_test > 0.5))),
            }
        return {
            "type": "frame",
            "step": self.steps,
            "epoch": self.epoch,
            "train_cost": h["train"][-1],
            "test_cost": h["test"][-1],
            "accuracy": accuracy,
            "view": view,
            "W": [_listed(w, 4) for w in net.W],
            "b": [_listed(v, 4) for v in net.b],
            "unit_activation": [_listed(np.mean(A[l], axis=1), 4) for l in range(net.L + 1)],
            "unit_delta": [None]
            + [_listed(np.mean(delta[l], axis=1), 6) for l in range(1, net.L + 1)],
            "grad_norms": self.grad_norms,
            "dead_relu": dead,
        }

    def data_message(self) -> dict[str, Any]:
        """The data set's points (raw units) and drawing domain, sent once per reset."""
        d = self.data
        return {
            "type": "data",
            "kind": d.kind,
            "domain": list(d.domain),
            "train": {"X": _listed(d.X_train, 4), "Y": _listed(d.Y_train, 4)},
            "test": {"X": _listed(d.X_test, 4), "Y": _listed(d.Y_test, 4)},
            "settings": asdict(self.settings),
            "sizes": self.net.sizes,
        }

    def model_file(self) -> bytes:
        """The trained network as a deltaprop model file (safetensors), standardisation included
        (and, for a classification set, the binary labels 0/1), readable by ``dp.load``,
        ``dp.load_model`` and ``deltaprop predict``."""
        d = self.data
        features = ["x1", "x2"] if d.kind == "classification" else ["x"]
        target = ["label"] if d.kind == "classification" else ["y"]
        labels = Labels("binary", [0, 1]) if d.kind == "classification" else None
        return io.model_bytes(
            self.net,
            standardization=d.std,
            feature_names=features,
            target_names=target,
            labels=labels,
            metadata={
                "made_by": "deltaprop playground",
                "steps": self.steps,
                "settings": asdict(self.settings),
            },
        )
