"""deltaprop: back-propagation in matrix form, exactly as derived on paper.

A fully-connected feed-forward network whose backward pass is equations (ii) and (i) written
out in matrix form (samples are columns), checked against central differences and an
independent autodiff. Start with :class:`Network` and :func:`gradcheck`; the derivation is in
``docs/derivation.md``.

>>> import numpy as np
>>> import deltaprop as dp
>>> net = dp.Network([4, 8, 8, 2], seed=0)
>>> rng = np.random.default_rng(0)
>>> X, Y = rng.normal(size=(4, 16)), rng.normal(size=(2, 16))
>>> dp.gradcheck(net, X, Y).ok
True
"""

from __future__ import annotations

__version__ = "0.1.0"

import importlib
from typing import Any

from . import activations, losses
from .activations import Activation
from .gradcheck import GradcheckReport, gradcheck
from .losses import Loss
from .network import Layers, Network

# Public names whose modules pull in heavier dependencies (scikit-learn, safetensors, Dask)
# are imported on first use.
_LAZY = {
    "save": ("io", "save"),
    "load": ("io", "load"),
    "fit": ("training", "fit"),
    "DeltaPropRegressor": ("estimator", "DeltaPropRegressor"),
    "DeltaPropClassifier": ("estimator", "DeltaPropClassifier"),
    "distributed": ("distributed", None),
    "graph": ("graph", None),
    "optim": ("optim", None),
    "training": ("training", None),
    "data": ("data", None),
    "workflow": ("workflow", None),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module_name, attr = _LAZY[name]
        module = importlib.import_module(f".{module_name}", __name__)
        return module if attr is None else getattr(module, attr)
    raise AttributeError(f"module 'deltaprop' has no attribute {name!r}")


__all__ = [
    "Activation",
    "DeltaPropClassifier",
    "DeltaPropRegressor",
    "GradcheckReport",
    "Layers",
    "Loss",
    "Network",
    "__version__",
    "activations",
    "data",
    "distributed",
    "fit",
    "gradcheck",
    "graph",
    "load",
    "losses",
    "optim",
    "save",
    "training",
    "workflow",
]
