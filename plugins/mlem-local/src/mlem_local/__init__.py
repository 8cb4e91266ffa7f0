"""Local paths and ``file://`` addresses for MLEM links."""

__version__ = "0.1.0"
