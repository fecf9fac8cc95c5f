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

from . import activations, losses
from .activations import Activation
from .gradcheck import GradcheckReport, gradcheck
from .losses import Loss
from .network import Layers, Network

__all__ = [
    "Activation",
    "GradcheckReport",
    "Layers",
    "Loss",
    "Network",
    "__version__",
    "activations",
    "gradcheck",
    "losses",
]
