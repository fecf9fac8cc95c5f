"""Where the derivation is: the copy shipped in the wheel, or the source checkout's.

The wheel carries ``docs/derivation.md`` (and the figures it shows) as
``deltaprop/docs/derivation.md`` (``[tool.hatch.build.targets.wheel.force-include]`` in
``pyproject.toml``), so an installed deltaprop can name a file that exists. From a source
checkout (an editable install, or ``PYTHONPATH=src``) the file is ``docs/derivation.md`` at the
repository root.

>>> derivation_path().name
'derivation.md'
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent
PACKAGED_DERIVATION = _HERE / "docs" / "derivation.md"
"""Where the wheel installs the document."""
SOURCE_DERIVATION = _HERE.parents[1] / "docs" / "derivation.md"
"""Where a source checkout has it (``src/deltaprop`` → ``docs/``)."""


def derivation_path() -> Path:
    """The path of the derivation document (``docs/derivation.md``) for this installation.

    Returns
    -------
    pathlib.Path
        The packaged copy if there is one, else the source checkout's.

    Raises
    ------
    FileNotFoundError
        If neither exists (a build that left the document out).
    """
    for path in (PACKAGED_DERIVATION, SOURCE_DERIVATION):
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"the derivation is not installed: neither {PACKAGED_DERIVATION} nor {SOURCE_DERIVATION} "
        "exists; read it at docs/derivation.md in the deltaprop repository"
    )


__all__ = ["PACKAGED_DERIVATION", "SOURCE_DERIVATION", "derivation_path"]
