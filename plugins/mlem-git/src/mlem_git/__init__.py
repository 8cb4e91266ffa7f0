"""Git repositories at any rev for MLEM links, read with the system ``git``."""

__version__ = "0.1.0"
