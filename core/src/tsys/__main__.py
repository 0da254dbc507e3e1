"""``python -m tsys``: the command line, for when the ``tsys`` script is not on PATH."""

from tsys.cli import main

if __name__ == "__main__":
    main()
