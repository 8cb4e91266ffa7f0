"""``gs://`` and ``gcs://`` projects for MLEM links: Google Cloud Storage."""

__version__ = "0.1.0"
