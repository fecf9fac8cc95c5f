r"""scikit-learn estimators: the same network behind ``fit``/``predict`` with samples as rows.

:class:`DeltaPropRegressor` and :class:`DeltaPropClassifier` take scikit-learn's
``(n_samples, n_features)`` arrays, transpose them once to the core's columns-as-samples
convention, and hand them to :func:`deltaprop.training.fit`; they hold no math. Their
parameters carry the names of scikit-learn's ``MLPRegressor``/``MLPClassifier`` where the
meaning matches, so most code written for those works unchanged:

================  =====================================================================
estimator         network
================  =====================================================================
regressor         hidden ``activation`` (ReLU), identity output, mean squared error
binary            hidden ``activation``, one sigmoid output, binary cross-entropy
multi-label       hidden ``activation``, one sigmoid per label, binary cross-entropy
multiclass        hidden ``activation``, softmax output, cross-entropy
================  =====================================================================

For the classifiers' pairings equation (ii) reduces to :math:`\delta^{[L]} = (A^{[L]} - Y)/m`
(``deltaprop.losses.OUTPUT_DELTA_SHORTCUTS``, each checked against the general formula).

Differences from scikit-learn, on purpose:

* ``alpha`` is DESIGN.md's :math:`\lambda`: the cost of each mini-batch is its mean cost plus
  :math:`(\alpha/2)\sum_l \lVert W^{[l]}\rVert_F^2`. scikit-learn adds
  :math:`(\alpha/2m)\sum_l \lVert W^{[l]}\rVert_F^2` to half the squared error (regressor) or
  to the log loss (classifier), m the batch size. The same weight decay is therefore
  ``alpha = alpha_sklearn / batch_size`` for the classifiers (the same log losses) and
  ``alpha = 2 * alpha_sklearn / batch_size`` for the regressor, whose cost
  :math:`\frac1m \sum_i \lVert y_i - \hat y_i\rVert^2` (summed over outputs, no 1/2) is
  twice the one scikit-learn differentiates; scikit-learn's SGD then needs twice our
  ``learning_rate_init`` to take the same steps (tests/test_training.py checks both).
  ``loss_curve_`` holds our cost: :math:`2 n_\text{outputs}` times scikit-learn's
  ``loss_curve_`` for the regressor (which reports a mean over the outputs too).
* ``learning_rate`` schedules apply to ``solver="sgd"`` only, as in scikit-learn.
* ``solver="lbfgs"`` is scipy's L-BFGS-B on the whole training set, as scikit-learn's:
  ``max_iter`` iterations and ``max_fun`` cost evaluations at most, ``tol`` its ``gtol``
  (the largest gradient entry), no ``n_iter_no_change``, ``early_stopping`` or
  ``partial_fit``.
* Sparse ``X`` (scipy.sparse; any format, taken as CSR) stays sparse on the NumPy backend,
  as in scikit-learn's MLPs: its transpose is the core's CSC ``X``, mini-batches are column
  slices, and layer 1's products :math:`W^{[1]} X` and :math:`\\delta^{[1]} X^T` cost its
  non-zeros (:mod:`deltaprop._fast`); memory :math:`O(\\mathrm{nnz})`, never
  :math:`n \\times n_0`. Other backends get it as a dense array, converted once.
* ``weight_init="glorot"`` (default) initialises like scikit-learn's MLPs: every
  :math:`W^{[l]}` and :math:`b^{[l]}` uniform on :math:`\pm\sqrt{6/(n_{l-1}+n_l)}`
  (:math:`\sqrt{2/\cdot}` for logistic hidden layers); ``"he"`` keeps the
  :class:`~deltaprop.network.Network`'s own rule (He normal for ReLU, zero biases). With
  Adam at scikit-learn's default learning rate the first reaches a lower held-out error on
  the benchmarks of ``docs/performance.md``.
* ``tol`` is compared with our cost, so the regressor stops like scikit-learn with
  ``tol = 2 * tol_sklearn`` (its cost is twice the one scikit-learn differentiates).
* ``backend``/``device`` choose where the network runs (NumPy by default, PyTorch, CuPy).
* The network's dtype follows ``X``: float32 input trains and predicts in float32.

Example
-------
>>> from sklearn.datasets import make_regression
>>> from deltaprop import DeltaPropRegressor
>>> X, y = make_regression(n_samples=200, n_features=4, noise=0.1, random_state=0)
>>> reg = DeltaPropRegressor(hidden_layer_sizes=(16,), learning_rate_init=0.01,
...                          max_iter=300, random_state=0).fit(X, y / 100)
>>> reg.score(X, y / 100) > 0.95
True
>>> [W.shape for W in reg.coefs_]               # row-major, as scikit-learn's
[(4, 16), (16, 1)]
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any, TypeGuard

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import _check_partial_fit_first_call, check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, column_or_1d

from . import _array, _checks
from .activations import get_activation
from .network import Network
from .optim import SCHEDULES, SGD, Adam, Optimizer
from .training import History, TrainState, fit

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:  # pragma: no cover - older scikit-learn

    def _validate_data(estimator: Any, *args: Any, **kwargs: Any) -> Any:
        return estimator._validate_data(*args, **kwargs)


HIDDEN_ACTIVATIONS = {
    # scikit-learn's names ...
    "identity": "identity",
    "logistic": "sigmoid",
    "tanh": "tanh",
    "relu": "relu",
    # ... and deltaprop's
    "sigmoid": "sigmoid",
    "leaky_relu": "leaky_relu",
    "elu": "elu",
    "softplus": "softplus",
}
"""``activation`` values -> deltaprop activation names."""

SOLVERS = ("sgd", "adam", "lbfgs")


def _check(cond: bool, name: str, value: Any, expected: str) -> None:
    if not cond:
        raise ValueError(f"{name} must be {expected}; got {value!r}")


def _is_real(x: Any) -> TypeGuard[float]:
    return _checks.is_real(x) and math.isfinite(x)


class _DeltaPropMLP(BaseEstimator):
    """Parameters, validation and the training call shared by both estimators."""

    network_: Network  # set by fit

    def __init__(
        self,
        hidden_layer_sizes: int | Sequence[int] = (100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int = 10,
        max_fun: int = 15000,
        weight_init: str = "glorot",
        backend: str = "numpy",
        device: Any = None,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.weight_init = weight_init
        self.backend = backend
        self.device = device

    # --- what the subclasses define ------------------------------------------------------

    _output = "identity"

    def _targets(self, y: np.ndarray, *, first: bool, classes: Any = None) -> np.ndarray:
        """``y`` as the network's targets, rows = samples: shape (n_samples, n_outputs)."""
        raise NotImplementedError

    def _output_and_loss(self) -> tuple[str, str]:
        raise NotImplementedError

    # --- validation ----------------------------------------------------------------------

    def _hidden_sizes(self) -> list[int]:
        h: Any = self.hidden_layer_sizes
        sizes = [h] if _checks.is_int(h) else h
        try:
            sizes = list(sizes)
        except TypeError:
            raise ValueError(
                f"hidden_layer_sizes must be an int or a sequence of ints >= 1; got {h!r}"
            ) from None
        for n in sizes:
            _check(_checks.is_int(n) and n >= 1, "hidden_layer_sizes", h, "a sequence of ints >= 1")
        return [int(n) for n in sizes]

    def _validate_params(self) -> None:
        _check(
            self.activation in HIDDEN_ACTIVATIONS,
            "activation",
            self.activation,
            f"one of {', '.join(HIDDEN_ACTIVATIONS)}",
        )
        _check(
            self.solver in SOLVERS,
            "solver",
            self.solver,
            "'sgd', 'adam' or 'lbfgs'",
        )
        _check(_is_real(self.alpha) and self.alpha >= 0, "alpha", self.alpha, "a number >= 0")
        batch_size: Any = self.batch_size
        _check(
            batch_size == "auto" or (_checks.is_int(batch_size) and batch_size >= 1),
            "batch_size",
            batch_size,
            "'auto' or an int >= 1",
        )
        _check(
            self.learning_rate in SCHEDULES,
            "learning_rate",
            self.learning_rate,
            f"one of {', '.join(SCHEDULES)}",
        )
        _check(
            _is_real(self.learning_rate_init) and self.learning_rate_init > 0,
            "learning_rate_init",
            self.learning_rate_init,
            "a number > 0",
        )
        _check(
            _is_real(self.power_t) and self.power_t >= 0, "power_t", self.power_t, "a number >= 0"
        )
        _check(
            _checks.is_int(self.max_iter) and self.max_iter >= 1,
            "max_iter",
            self.max_iter,
            "an int >= 1",
        )
        _check(_is_real(self.tol) and self.tol >= 0, "tol", self.tol, "a number >= 0")
        _check(
            _is_real(self.momentum) and 0 <= self.momentum < 1,
            "momentum",
            self.momentum,
            "a number in [0, 1)",
        )
        _check(
            _is_real(self.validation_fraction) and 0 < self.validation_fraction < 1,
            "validation_fraction",
            self.validation_fraction,
            "a number in (0, 1)",
        )
        for name in ("beta_1", "beta_2"):
            v = getattr(self, name)
            _check(_is_real(v) and 0 <= v < 1, name, v, "a number in [0, 1)")
        _check(_is_real(self.epsilon) and self.epsilon > 0, "epsilon", self.epsilon, "a number > 0")
        _check(
            _checks.is_int(self.n_iter_no_change) and self.n_iter_no_change >= 1,
            "n_iter_no_change",
            self.n_iter_no_change,
            "an int >= 1",
        )
        _check(
            _checks.is_int(self.max_fun) and self.max_fun >= 1,
            "max_fun",
            self.max_fun,
            "an int >= 1",
        )
        _check(
            self.weight_init in ("glorot", "he"),
            "weight_init",
            self.weight_init,
            "'glorot' (scikit-learn's) or 'he' (the Network's default)",
        )
        for name in ("shuffle", "verbose", "warm_start", "nesterovs_momentum", "early_stopping"):
            v = getattr(self, name)
            _check(isinstance(v, (bool, np.bool_)), name, v, "True or False")

    # --- fitting -------------------------------------------------------------------------

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> Any:
        """Train on ``X`` of shape (n_samples, n_features) and ``y`` of shape (n_samples,) or
        (n_samples, n_outputs); returns ``self``.

        ``sample_weight`` (n_samples,), non-negative, follows scikit-learn 1.9's MLPs: each
        mini-batch's cost is :math:`\\sum_i w_i \\ell_i / \\sum_i w_i` (normalised by the
        batch's total weight, the L2 penalty unweighted) and column i of
        :math:`\\delta^{[L]}` is scaled by :math:`m w_i / \\sum_j w_j`; with
        ``early_stopping`` the held-out rows keep their weights and the validation score
        (R², accuracy) is weighted by them, as scikit-learn's. Zero weights equal dropping the
        rows in full-batch training, and a held-out row of weight 0 changes no score.
        """
        return self._fit(X, y, incremental=False, sample_weight=sample_weight)

    def _fit(
        self,
        X: Any,
        y: Any,
        *,
        incremental: bool,
        classes: Any = None,
        sample_weight: Any = None,
    ) -> Any:
        self._validate_params()
        hidden = self._hidden_sizes()
        first = not hasattr(self, "network_") or not (self.warm_start or incremental)
        X, y = self._check_data(X, y, first)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, ensure_non_negative=True)
        T = self._targets(y, first=first, classes=classes)  # (n_samples, n_outputs)
        dtype = X.dtype if first else np.dtype(self.network_.dtype_name)
        if first:
            self._new_network(X.shape[1], hidden, T.shape[1], dtype)
        self.network_.alpha = float(self.alpha)
        # one transpose at the boundary: the core's samples are columns
        if _array.is_dask(X):
            Xc, Yc = X.T.astype(dtype), T.T.astype(dtype)
        else:
            Xc, Yc = _columns(X, dtype), np.ascontiguousarray(T.T, dtype=dtype)
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        if incremental and self.solver == "lbfgs":
            raise AttributeError("partial_fit is only available for stochastic optimizers")
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="batch_size=", category=UserWarning)
            history, new, seen = self._train(Xc, Yc, incremental, sample_weight)
        self._record(history, new, seen, bool(self.early_stopping), incremental=incremental)
        return self

    def _check_data(self, X: Any, y: Any, first: bool) -> tuple[Any, Any]:
        """``X`` (n_samples, n_features) and ``y`` checked; Dask arrays lazily."""
        if _array.is_dask(X):  # validated lazily; trained full-batch (deltaprop.distributed)
            X, y = _check_dask_data(self, X, y, reset=first)
        else:
            X, y = _validate_data(
                self,
                X,
                y,
                reset=first,
                accept_sparse="csr",
                dtype=(np.float64, np.float32),
                multi_output=True,
                y_numeric=not isinstance(self, ClassifierMixin),
            )
            X = self._sparse_or_dense(X)
        if X.shape[0] < 1:
            raise ValueError("X must hold at least 1 sample; got 0")
        return X, y

    def _sparse_or_dense(self, X: Any) -> Any:
        """A scipy.sparse ``X`` kept as it is on NumPy, made dense once on other backends."""
        return X.toarray() if sp.issparse(X) and self.backend != "numpy" else X

    def _new_network(self, n_features: int, hidden: list[int], n_outputs: int, dtype: Any) -> None:
        """A fresh ``network_`` and empty fitted attributes (``fit``, a first ``partial_fit``)."""
        rs = check_random_state(self.random_state)
        init_seed, self._fit_seed = (int(s) for s in rs.randint(np.iinfo(np.int32).max, size=2))
        output, loss = self._output_and_loss()
        self.n_outputs_ = n_outputs
        self.network_ = Network(
            [n_features, *hidden, n_outputs],
            hidden=HIDDEN_ACTIVATIONS[self.activation],
            output=output,
            loss=loss,
            seed=init_seed,
            dtype=dtype.name,
            backend=self.backend,
            device=self.device,
            alpha=float(self.alpha),
        )
        if self.weight_init == "glorot":
            _sklearn_initial_parameters(self.network_, self.activation, init_seed)
        self._state: TrainState | None = None
        self.loss_curve_: list[float] = []
        self.n_iter_ = 0
        self.t_ = 0
        self.best_loss_: float | None = np.inf
        self.validation_scores_: list[float] | None = None
        self.best_validation_score_: float | None = None

    def _train(
        self, Xc: Any, Yc: Any, incremental: bool, sample_weight: Any = None
    ) -> tuple[History, list[float], int]:
        """:func:`deltaprop.training.fit` on columns; the history, its new losses, samples seen.

        ``partial_fit`` runs one epoch per call, continuing the optimiser and the shuffling
        generator through the kept state; ``fit`` runs ``max_iter`` epochs from a new state
        (a fresh optimiser, ``warm_start`` or not) and keeps it for the next ``partial_fit``,
        as scikit-learn's MLPs keep their optimiser (not after L-BFGS, which has none, nor
        after early stopping, whose validation history ``partial_fit`` could not extend).
        """
        kwargs: dict[str, Any] = dict(
            optimizer=self._optimizer(),
            batch_size=self.batch_size,
            shuffle=bool(self.shuffle),
            learning_rate=self.learning_rate if self.solver == "sgd" else "constant",
            power_t=float(self.power_t),
            early_stopping=bool(self.early_stopping),
            validation_fraction=float(self.validation_fraction),
            n_iter_no_change=int(self.n_iter_no_change),
            tol=float(self.tol),
            callbacks=[_Verbose()] if self.verbose else [],
            seed=self._fit_seed,
            sample_weight=sample_weight,
        )
        if self.solver == "lbfgs":  # full batch; scipy's own stopping rules only
            kwargs.update(optimizer="lbfgs", early_stopping=False, n_iter_no_change=None)
            kwargs.update(batch_size="auto", max_fun=int(self.max_fun))
        if incremental:
            if self._state is None or self._state.optimizer != self.solver:
                self._state = TrainState()  # the first call, or another solver than fit's
            state = self._state
            t_before = state.t
            history = fit(self.network_, Xc, Yc, epochs=state.epoch + 1, state=state, **kwargs)
            return history, history.loss[-1:], state.t - t_before
        state = TrainState()
        history = fit(self.network_, Xc, Yc, epochs=int(self.max_iter), state=state, **kwargs)
        keep = self.solver != "lbfgs" and not self.early_stopping  # (partial_fit refuses it)
        self._state = state if keep else None
        return history, history.loss, history.t

    def _optimizer(self) -> Optimizer:
        """A new optimiser of ``solver``'s kind from the estimator's hyper-parameters."""
        lr = float(self.learning_rate_init)
        if self.solver == "sgd":
            return SGD(lr=lr, momentum=float(self.momentum), nesterov=bool(self.nesterovs_momentum))
        return Adam(
            lr=lr, beta_1=float(self.beta_1), beta_2=float(self.beta_2), epsilon=float(self.epsilon)
        )

    def _record(
        self, history: History, new: list[float], seen: int, early: bool, incremental: bool
    ) -> None:
        self.loss_curve_ = [*self.loss_curve_, *new]
        # n_iter_: the epochs of this fit, as scikit-learn's (partial_fit calls add up);
        # t_: every training sample seen since the first fit
        self.n_iter_ = self.n_iter_ + 1 if incremental else len(new)
        self.t_ += seen
        self.loss_ = self.loss_curve_[-1]
        if early:
            self.validation_scores_ = list(history.val_score)
            self.best_validation_score_ = max(history.val_score)
            self.best_loss_ = None
        else:
            self.best_loss_ = min(self.loss_curve_)
        if not incremental and history.stopped_reason == "max_epochs":
            what = "lbfgs" if self.solver == "lbfgs" else "Stochastic Optimizer"
            warnings.warn(
                f"{what}: Maximum iterations ({self.max_iter}) reached and the "
                f"optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=3,
            )

    def _partial_fit(self, X: Any, y: Any, classes: Any = None, sample_weight: Any = None) -> Any:
        return self._fit(X, y, incremental=True, classes=classes, sample_weight=sample_weight)

    # --- prediction ----------------------------------------------------------------------

    def _forward(self, X: Any) -> np.ndarray:
        """The network's output for ``X`` (n_samples, n_features), as (n_samples, n_outputs)."""
        check_is_fitted(self, "network_")
        if _array.is_dask(X):  # a lazy Dask array of shape (n_samples, n_outputs)
            from .distributed import forward

            X, _ = _check_dask_data(self, X, None, reset=False)
            return forward(self.network_, X.T.astype(self.network_.dtype_name)).T
        X = self._sparse_or_dense(
            _validate_data(
                self, X, reset=False, accept_sparse="csr", dtype=(np.float64, np.float32)
            )
        )
        net = self.network_
        Xc = _columns(X, net.dtype_name)
        return _array.to_numpy(net.forward(Xc)).T

    # --- scikit-learn's view of the parameters -------------------------------------------

    @property
    def coefs_(self) -> list[np.ndarray]:
        """``coefs_[i]`` = ``W[i+1].T``, shape (n_{i}, n_{i+1}) (row-major, as scikit-learn)."""
        check_is_fitted(self, "network_")
        return [np.ascontiguousarray(_array.to_numpy(W).T) for W in self.network_.W]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """``intercepts_[i]`` = ``b[i+1]`` as a vector of shape (n_{i+1},)."""
        check_is_fitted(self, "network_")
        return [_array.to_numpy(b).reshape(-1).copy() for b in self.network_.b]

    @property
    def n_layers_(self) -> int:
        """Layers counting the input, as scikit-learn's: L + 1."""
        check_is_fitted(self, "network_")
        return self.network_.L + 1

    @property
    def out_activation_(self) -> str:
        """scikit-learn's name of the output activation."""
        check_is_fitted(self, "network_")
        name = self.network_.output.name
        return "logistic" if name == "sigmoid" else name

    # --- pickling: a Network holds its array namespace (a module), so store the arrays -------

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        net = state.pop("network_", None)
        if net is not None:
            state["_network_spec"] = _network_spec(net)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        spec = state.pop("_network_spec", None)
        super().__setstate__(state)
        if spec is not None:
            self.network_ = _network_from_spec(spec)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


def _columns(X: Any, dtype: Any) -> Any:
    """Rows ``X`` (n_samples, n_features) as the core's columns, in ``dtype``: one transpose
    at the boundary (a CSR matrix's transpose is the CSC one, without a copy)."""
    if sp.issparse(X):
        return X.T.astype(dtype, copy=False)
    return np.ascontiguousarray(X.T, dtype=dtype)


def _check_dask_data(est: Any, X: Any, y: Any, reset: bool) -> tuple[Any, Any]:
    """The scikit-learn adapters' checks for Dask ``X`` of shape (n_samples, n_features) and
    ``y`` of shape (n_samples,) or (n_samples, n_outputs), lazily: nothing is computed.

    Returns ``X`` (float32/float64, one chunk of features per block of samples) and ``y`` as a
    Dask array with ``X``'s blocks of samples.
    """
    import dask.array as da

    if type(est).__name__ == "DeltaPropClassifier":
        raise TypeError(
            "DeltaPropClassifier does not accept Dask arrays (its labels would have to be "
            "gathered); use DeltaPropRegressor, or deltaprop.fit with one-hot Dask targets"
        )
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D of shape (n_samples, n_features); got shape {X.shape}")
    if any(math.isnan(c) for c in X.chunks[0]):
        raise ValueError("X has blocks of unknown size: call X.compute_chunk_sizes() first")
    if np.dtype(X.dtype).name not in ("float32", "float64"):
        if np.dtype(X.dtype).kind not in "iub":
            raise TypeError(f"X must hold real numbers; got dtype {X.dtype}")
        X = X.astype(np.float64)
    if reset:
        est.n_features_in_ = int(X.shape[1])
    elif X.shape[1] != est.n_features_in_:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(est).__name__} is expecting "
            f"{est.n_features_in_} features as input."
        )
    X = X.rechunk({1: -1})
    if y is None:
        return X, None
    if not isinstance(y, da.Array):
        y = da.from_array(np.asarray(y), chunks=(X.chunks[0],) + ((-1,) if np.ndim(y) == 2 else ()))
    if y.ndim not in (1, 2) or y.shape[0] != X.shape[0]:
        raise ValueError(
            f"y must have shape (n_samples,) or (n_samples, n_outputs) with n_samples = "
            f"{X.shape[0]}; got shape {y.shape}"
        )
    if np.dtype(y.dtype).kind not in "fiub":
        raise TypeError(f"y must hold real numbers; got dtype {y.dtype}")
    y = y.rechunk((X.chunks[0],) + ((-1,) if y.ndim == 2 else ()))
    return X, y


def _sklearn_initial_parameters(net: Network, activation: str, seed: int) -> None:
    """scikit-learn's MLP initialisation: every W^[l] and b^[l] uniform on ±r,
    r = sqrt(f / (n_{l-1} + n_l)), f = 2 when the hidden activation is logistic, 6 otherwise
    (Glorot & Bengio, 2010); drawn in float64 from ``seed``, then cast to the network's dtype."""
    rng = np.random.default_rng(seed)
    f = 2.0 if activation == "logistic" else 6.0
    for l in range(1, net.L + 1):
        n_in, n_out = net.sizes[l - 1], net.sizes[l]
        r = np.sqrt(f / (n_in + n_out))
        net.W[l] = rng.uniform(-r, r, (n_out, n_in)).astype(net.dtype_name)
        net.b[l] = rng.uniform(-r, r, (n_out, 1)).astype(net.dtype_name)


class _Verbose:
    """Prints scikit-learn's per-epoch line when ``verbose=True``."""

    def on_epoch_end(self, state: TrainState, net: Network) -> None:
        print(f"Iteration {state.epoch}, loss = {state.history.loss[-1]:.8f}")


def _network_spec(net: Network) -> dict[str, Any]:
    return {
        "sizes": list(net.sizes),
        "hidden": (net.hidden.name, dict(net.hidden.params)),
        "output": (net.output.name, dict(net.output.params)),
        "loss": net.loss.name,
        "dtype": net.dtype_name,
        "backend": net.backend,
        "device": None if net.device is None else str(net.device),
        "alpha": net.alpha,
        "W": [np.array(_array.to_numpy(W), copy=True) for W in net.W],
        "b": [np.array(_array.to_numpy(b), copy=True) for b in net.b],
    }


def _network_from_spec(spec: dict[str, Any]) -> Network:
    hidden_name, hidden_params = spec["hidden"]
    output_name, output_params = spec["output"]
    net = Network(
        spec["sizes"],
        hidden=get_activation(hidden_name, param="hidden", **hidden_params),
        output=get_activation(output_name, param="output", **output_params),
        loss=spec["loss"],
        dtype=spec["dtype"],
        backend=spec["backend"],
        device=spec["device"],
        alpha=spec["alpha"],
    )
    for l in range(1, net.L + 1):
        net.W[l] = spec["W"][l - 1]
        net.b[l] = spec["b"][l - 1]
    return net


class DeltaPropRegressor(RegressorMixin, _DeltaPropMLP):
    """A multi-layer perceptron regressor trained by deltaprop's matrix back-propagation.

    The exercise's network: ``activation`` hidden layers (ReLU by default), identity output,
    mean squared error :math:`J = \\frac1m\\sum_i\\lVert y_i - \\hat y_i\\rVert^2` plus
    :math:`(\\alpha/2)\\sum_l\\lVert W^{[l]}\\rVert_F^2`. Parameters as scikit-learn's
    ``MLPRegressor`` (see the module docstring for ``alpha``), plus ``backend`` and ``device``.

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default (100,)
    activation : {"relu", "identity", "logistic", "tanh", "leaky_relu", "elu", "softplus"}
    solver : {"adam", "sgd", "lbfgs"}, default "adam"
    alpha : float, default 0.0001
        L2 penalty :math:`\\lambda` of DESIGN.md (not scikit-learn's scaling).
    batch_size : int or "auto", default "auto"
        ``min(200, n_samples)`` for "auto".
    learning_rate : {"constant", "invscaling", "adaptive"}, default "constant"
        Schedule for ``solver="sgd"``.
    max_fun : int, default 15000
        ``solver="lbfgs"`` only: most cost evaluations, as scikit-learn's.
    learning_rate_init, power_t, max_iter, shuffle, random_state, tol, verbose, warm_start,
    momentum, nesterovs_momentum, early_stopping, validation_fraction, beta_1, beta_2,
    epsilon, n_iter_no_change
        As in scikit-learn's ``MLPRegressor``.
    weight_init : {"glorot", "he"}, default "glorot"
        scikit-learn's initialisation (W and b uniform, Glorot's bound) or the Network's own
        (He normal for ReLU layers, zero biases).
    backend : {"numpy", "torch", "cupy"}, default "numpy"
    device : optional
        E.g. ``"cuda"`` with ``backend="torch"``.

    Attributes
    ----------
    network_ : Network
        The trained network (samples as columns).
    coefs_, intercepts_ : list of ndarray
        ``coefs_[i]`` of shape (n_i, n_{i+1}) is ``network_.W[i+1].T``.
    loss_curve_ : list of float
        Training cost per epoch.
    validation_scores_ : list of float or None
        R² on the held-out fraction per epoch (``early_stopping`` only).
    best_loss_, best_validation_score_ : float or None
    n_iter_, t_, n_features_in_, feature_names_in_, n_outputs_, n_layers_, out_activation_
        As in scikit-learn.
    """

    def _output_and_loss(self) -> tuple[str, str]:
        return "identity", "mse"

    def _targets(self, y: np.ndarray, *, first: bool, classes: Any = None) -> np.ndarray:
        if first:
            self._y_ndim = y.ndim
        T = y.reshape(-1, 1) if y.ndim == 1 else y
        if not first and T.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y has {T.shape[1]} outputs but the fitted network has {self.n_outputs_}"
            )
        return T

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> DeltaPropRegressor:
        """One epoch over ``X`` (n_samples, n_features), ``y``; continues the optimiser (of
        the last ``partial_fit`` or ``fit``, also across ``dp.save``/``dp.load``: bit for bit).
        ``sample_weight`` as in :meth:`fit`."""
        return self._partial_fit(X, y, sample_weight=sample_weight)

    def predict(self, X: Any) -> np.ndarray:
        """Predictions of shape (n_samples,) or (n_samples, n_outputs), like the fitted ``y``."""
        out = self._forward(X)
        return out.ravel() if self._y_ndim == 1 else out

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags


class DeltaPropClassifier(ClassifierMixin, _DeltaPropMLP):
    """A multi-layer perceptron classifier trained by deltaprop's matrix back-propagation.

    Binary and multi-label targets get sigmoid outputs with binary cross-entropy, multiclass
    targets a softmax output with cross-entropy; for both pairings
    :math:`\\delta^{[L]} = (A^{[L]} - Y)/m`. Parameters as scikit-learn's ``MLPClassifier``
    (see the module docstring for ``alpha``), plus ``backend`` and ``device``.

    Parameters
    ----------
    hidden_layer_sizes, activation, solver, alpha, batch_size, learning_rate, learning_rate_init,
    power_t, max_iter, shuffle, random_state, tol, verbose, warm_start, momentum,
    nesterovs_momentum, early_stopping, validation_fraction, beta_1, beta_2, epsilon,
    n_iter_no_change, max_fun, weight_init, backend, device
        As for :class:`DeltaPropRegressor`; ``early_stopping`` scores accuracy.

    Attributes
    ----------
    classes_ : ndarray
        The class labels (for multi-label targets, the label indices).
    network_, coefs_, intercepts_, loss_curve_, validation_scores_, best_loss_,
    best_validation_score_, n_iter_, t_, n_features_in_, feature_names_in_, n_outputs_,
    n_layers_, out_activation_
        As for :class:`DeltaPropRegressor`.
    """

    def _output_and_loss(self) -> tuple[str, str]:
        multiclass = self._binarizer.y_type_ == "multiclass"
        return ("softmax", "cross_entropy") if multiclass else ("sigmoid", "binary_cross_entropy")

    def _targets(self, y: np.ndarray, *, first: bool, classes: Any = None) -> np.ndarray:
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if first:
            lb = LabelBinarizer()
            lb.fit(y if classes is None or y.ndim == 2 else np.asarray(classes))
            if len(lb.classes_) < 2:
                raise ValueError(
                    f"{type(self).__name__} needs samples of at least 2 classes; got 1 class "
                    f"({lb.classes_[0]!r})"
                )
            self._binarizer = lb
            self.classes_ = lb.classes_
        else:
            seen = np.unique(y) if y.ndim == 1 else None
            if seen is not None and not np.isin(seen, self.classes_).all():
                unknown = seen[~np.isin(seen, self.classes_)]
                raise ValueError(
                    f"y holds classes {unknown.tolist()} that the fitted classifier does not "
                    f"know (classes_ = {self.classes_.tolist()})"
                )
        return self._binarizer.transform(y)

    def partial_fit(
        self, X: Any, y: Any, classes: Any = None, sample_weight: Any = None
    ) -> DeltaPropClassifier:
        """One epoch over ``X`` (n_samples, n_features), ``y``; continues the optimiser (of
        the last ``partial_fit`` or ``fit``, also across ``dp.save``/``dp.load``: bit for bit).

        ``classes`` (all the labels ``y`` may ever hold) is required on the first call;
        ``sample_weight`` as in :meth:`fit`.
        """
        if _check_partial_fit_first_call(self, classes) and hasattr(self, "network_"):
            del self.network_
        return self._partial_fit(X, y, classes=self.classes_, sample_weight=sample_weight)

    def predict(self, X: Any) -> np.ndarray:
        """Class labels of shape (n_samples,) (or (n_samples, n_labels) for multi-label)."""
        A = self._forward(X)
        if self.n_outputs_ == 1:
            A = A.ravel()
        return self._binarizer.inverse_transform(A)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities of shape (n_samples, n_classes), columns in ``classes_`` order."""
        A = self._forward(X)
        if self.n_outputs_ == 1 and self._binarizer.y_type_ == "binary":
            return np.hstack([1.0 - A, A])
        return A

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """``log(predict_proba(X))``."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


__all__ = ["HIDDEN_ACTIVATIONS", "DeltaPropClassifier", "DeltaPropRegressor"]
