"""MLEM projects on a static file server: ``static+http://`` addresses."""

__version__ = "0.1.0"
