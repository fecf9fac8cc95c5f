"""``python -m deltaprop`` works like the ``deltaprop`` command."""

from .cli import main

if __name__ == "__main__":
    main()
