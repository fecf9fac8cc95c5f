"""Fitted scikit-learn estimators in model files: parameters and fitted attributes as JSON.

:func:`deltaprop.io.save` stores a fitted ``DeltaPropRegressor``/``DeltaPropClassifier`` as a
model file whose network tensors are the estimator's ``network_`` and whose metadata field
``estimator`` is the object :func:`estimator_meta` builds; :func:`deltaprop.io.load` gives it
to :func:`estimator_from`, which rebuilds a fitted estimator predicting identically. Nothing
is pickled: every value is a JSON number, string, list or null, checked on the way back.

The training state that ``partial_fit`` continues from (a :class:`~deltaprop.training.TrainState`:
the optimiser's hyper-parameters and step count, its moment arrays, the shuffling generator's
state, the history) is stored too, as a checkpoint stores it (``TrainState.to_arrays``: the
arrays as tensors ``state.<name>``, the rest as JSON under ``estimator.train_state``), and is
checked on the way back as a checkpoint's is, so that ``partial_fit`` after :func:`save` and
:func:`load` is bit for bit the ``partial_fit`` of the estimator that was saved. ``fit`` keeps its
state for a next ``partial_fit`` too (not with L-BFGS or early stopping), as scikit-learn's
MLPs keep their optimiser; ``fit`` itself always starts a fresh optimiser (scikit-learn's do
the same, ``warm_start`` or not), from the stored ``_fit_seed``. A file without the state
(written before it was stored, or by an estimator that keeps none) loads as an estimator
whose next ``partial_fit`` starts a fresh optimiser and generator.

What is not stored: a ``random_state`` that is a ``RandomState`` instance (stored as null).

This module sits above both :mod:`deltaprop.io` and :mod:`deltaprop.estimator`; ``io`` imports
it by name, only when an estimator is saved or loaded.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .estimator import DeltaPropClassifier, DeltaPropRegressor
from .network import Network

_CLASSES = {"DeltaPropRegressor": DeltaPropRegressor, "DeltaPropClassifier": DeltaPropClassifier}
_FLOATS = ("loss_", "best_loss_", "best_validation_score_")
_FLOAT_LISTS = ("loss_curve_", "validation_scores_")
_INTS = ("n_features_in_", "n_outputs_", "n_iter_", "t_", "_fit_seed")


def _number(x: Any) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _plain(value: Any) -> Any:
    """A parameter value as JSON holds it (tuples as lists, NumPy scalars as Python's)."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def estimator_meta(est: Any) -> tuple[Network, dict[str, Any], dict[str, np.ndarray]]:
    """The network, the JSON object and the training state's arrays (names without the
    ``state.`` prefix; empty without a state) that describe a fitted deltaprop estimator."""
    name = type(est).__name__
    if _CLASSES.get(name) is not type(est):
        raise TypeError(
            f"can save DeltaPropRegressor and DeltaPropClassifier estimators; got {name}"
        )
    if not hasattr(est, "network_"):
        raise ValueError(f"this {name} is not fitted yet; call fit before saving it")
    params = {}
    for key, value in est.get_params(deep=False).items():
        if key == "random_state" and not (value is None or isinstance(value, int)):
            value = None  # a RandomState instance: its state is not kept
        elif key == "device" and value is not None:
            value = str(value)
        params[key] = _plain(value)
    fitted: dict[str, Any] = {k: int(getattr(est, k)) for k in _INTS}
    fitted.update({k: _number(getattr(est, k, None)) for k in _FLOATS})
    for key in _FLOAT_LISTS:
        values = getattr(est, key, None)
        fitted[key] = None if values is None else [_number(v) for v in values]
    names = getattr(est, "feature_names_in_", None)
    fitted["feature_names_in_"] = None if names is None else [str(n) for n in names]
    if isinstance(est, DeltaPropRegressor):
        fitted["y_ndim"] = int(est._y_ndim)
    else:
        classes = np.asarray(est.classes_)
        if classes.dtype.kind not in "iuUbf":
            if not all(isinstance(c, str) for c in classes.tolist()):
                raise TypeError(
                    f"can save class labels that are all numbers or all strings; got "
                    f"{classes.tolist()[:5]!r}"
                )
            classes = classes.astype(str)
        fitted["classes"] = classes.tolist()
        fitted["classes_kind"] = classes.dtype.kind
        fitted["y_type"] = est._binarizer.y_type_
    spec = {"class": name, "params": params, "fitted": fitted, "train_state": None}
    arrays: dict[str, np.ndarray] = {}
    state = getattr(est, "_state", None)
    if state is not None:  # partial_fit's: the optimiser, the generator, the history
        arrays, spec["train_state"] = state.to_arrays()
    return est.network_, spec, arrays


def estimator_from(spec: dict[str, Any], net: Network, state: Any = None) -> Any:
    """The fitted estimator an :func:`estimator_meta` object describes, around ``net``, with
    the training state ``state`` (a checked ``TrainState``, or None for a fresh one)."""
    from sklearn.preprocessing import LabelBinarizer

    cls = _CLASSES.get(spec.get("class"))  # type: ignore[arg-type]
    if cls is None:
        raise ValueError(f"unknown estimator class {spec.get('class')!r}")
    params, fitted = spec["params"], spec["fitted"]
    if not isinstance(params, dict) or not isinstance(fitted, dict):
        raise ValueError("estimator params and fitted attributes must be JSON objects")
    if isinstance(params.get("hidden_layer_sizes"), list):
        params = {**params, "hidden_layer_sizes": tuple(params["hidden_layer_sizes"])}
    est = cls(**params)
    for key in _INTS:
        value = fitted[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"fitted attribute {key} must be an integer >= 0; got {value!r}")
        setattr(est, key, value)
    if est.n_features_in_ != net.sizes[0]:
        raise ValueError(
            f"n_features_in_ is {est.n_features_in_} but the network takes {net.sizes[0]} inputs"
        )
    for key in _FLOATS:
        setattr(est, key, _number(fitted[key]))
    for key in _FLOAT_LISTS:
        values = fitted[key]
        setattr(est, key, None if values is None else [float(v) for v in values])
    if est.best_loss_ is None and est.validation_scores_ is None:
        est.best_loss_ = np.inf
    if est.loss_curve_ is None:
        est.loss_curve_ = []
    names = fitted["feature_names_in_"]
    if names is not None:
        if len(names) != net.sizes[0] or not all(isinstance(n, str) for n in names):
            raise ValueError(f"feature_names_in_ must be {net.sizes[0]} strings")
        est.feature_names_in_ = np.asarray(names, dtype=object)
    if isinstance(est, DeltaPropRegressor):
        if fitted["y_ndim"] not in (1, 2):
            raise ValueError(f"y_ndim must be 1 or 2; got {fitted['y_ndim']!r}")
        est._y_ndim = fitted["y_ndim"]
    else:
        kind, y_type = fitted["classes_kind"], fitted["y_type"]
        dtype: dict[str, Any] = {
            "i": np.int64,
            "u": np.uint64,
            "b": np.bool_,
            "f": np.float64,
            "U": str,
        }
        if kind not in dtype or y_type not in ("binary", "multiclass", "multilabel-indicator"):
            raise ValueError(f"unknown class label kind {kind!r} or target type {y_type!r}")
        classes: np.ndarray = np.asarray(fitted["classes"], dtype=dtype[kind])
        lb = LabelBinarizer()
        if y_type == "multilabel-indicator":
            lb.fit(np.vstack([np.zeros(len(classes), int), np.ones(len(classes), int)]))
        else:
            lb.fit(classes)
        if lb.y_type_ != y_type or not np.array_equal(lb.classes_, classes):
            raise ValueError(f"classes {classes.tolist()!r} do not make a {y_type} target")
        n_outputs = 1 if y_type == "binary" else len(classes)
        if net.sizes[-1] != n_outputs:
            raise ValueError(
                f"a {y_type} classifier of {len(classes)} classes has {n_outputs} output(s); "
                f"the network has {net.sizes[-1]}"
            )
        est._binarizer, est.classes_ = lb, lb.classes_
    if est.n_outputs_ != net.sizes[-1]:
        raise ValueError(f"n_outputs_ is {est.n_outputs_}; the network has {net.sizes[-1]}")
    if state is not None:
        _check_state_fits(est, state, net)
    est._state = state
    est.network_ = net
    return est


def _check_state_fits(est: Any, state: Any, net: Network) -> None:
    """A training state (already checked as a checkpoint's is) that this estimator's
    ``partial_fit`` could have left: its solver's optimiser, arrays in the network's dtype,
    no more epochs or samples than the estimator has seen."""
    if state.optimizer != est.solver:
        raise ValueError("train_state.optimizer is not the estimator's solver")
    for key, value in state.optimizer_state.items():
        if isinstance(value, np.ndarray) and value.dtype != np.dtype(net.dtype_name):
            raise ValueError(f"train_state optimizer array {key} is not in the network's dtype")
    if state.epoch > est.n_iter_ or state.t > est.t_:
        raise ValueError("train_state has more epochs or samples than n_iter_ and t_ count")
