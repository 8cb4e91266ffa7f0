"""``s3://`` projects for MLEM links: Amazon S3 and S3-compatible stores."""

__version__ = "0.1.0"
