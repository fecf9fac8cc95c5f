"""Matplotlib figures: loss curves, per-layer gradient norms, the back-propagation blow-up study.

Every function writes a PNG with the non-interactive Agg backend (no screen needed) and returns
the path it wrote.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
