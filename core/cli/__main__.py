"""``python -m caratflow.cli``: the ``caratflow`` command."""

from caratflow.cli import main

main()
