"""``python -m mlem``: the same as the ``mlem`` command."""

from mlem.cli import main

if __name__ == "__main__":
    main()
