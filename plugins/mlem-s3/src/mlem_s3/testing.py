"""A real S3 server for tests: moto's server mode on 127.0.0.1.

:func:`moto_server` starts ``moto_server`` on a free loopback port, makes the
server check credentials (so that access can be denied), and yields an
:class:`S3Server` with the endpoint and the environment a client needs.
Nothing here reaches any host but 127.0.0.1: the environment points botocore
at the server, turns off the EC2 metadata lookup and hides ``~/.aws``.

Use it from a session-scoped fixture::

    @pytest.fixture(scope="session")
    def s3_server(tmp_path_factory):
        with moto_server() as server:
            yield server

    @pytest.fixture
    def s3(s3_server, monkeypatch):
        s3_server.patch_env(monkeypatch)
        return s3_server

Needs ``moto[server]`` and ``boto3`` (the ``testing`` extra of mlem-s3).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from typing import Any

from mlem.loopback import HOST, BucketServer, free_port, serve

#: a bucket the test credentials may list but whose objects they may not read
#: or write: for access-denied tests
DENIED_BUCKET = "mlem-denied"

#: in any bucket, keys under this prefix may be read but not written
READ_ONLY_PREFIX = "read-only"

REGION = "us-east-1"

#: variables that would point a client at real AWS or at a user's own setup
UNSET = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "FSSPEC_S3",
    "FSSPEC_S3_ENDPOINT_URL",
    "FSSPEC_S3_ANON",
    "FSSPEC_S3_PROFILE",
)

# moto lets this many requests through before it checks credentials: the
# three that create the test user, its key and its policy
_SETUP_ACTIONS = 3


class S3Server(BucketServer):
    """A running moto S3 server and how to reach it.

    ``env`` holds the variables a client (this process, or a ``mlem``
    subprocess) needs: credentials of a user moto knows, the region, the
    endpoint through ``FSSPEC_S3_ENDPOINT_URL``, and no metadata lookups.
    """

    unset = UNSET

    def __init__(self, port: int, key_id: str, secret: str) -> None:
        super().__init__(port)
        self.key_id = key_id
        self.secret = secret
        config = os.devnull
        self.env = {
            "AWS_ACCESS_KEY_ID": key_id,
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": config,
            "AWS_SHARED_CREDENTIALS_FILE": config,
            "FSSPEC_S3_ENDPOINT_URL": self.endpoint,
        }

    def make_filesystem(self) -> Any:
        """An s3fs file system on this server, for setting up tests."""
        import s3fs

        return s3fs.S3FileSystem(
            endpoint_url=self.endpoint,
            key=self.key_id,
            secret=self.secret,
            skip_instance_cache=True,
            use_listings_cache=False,
            version_aware=True,
        )

    def make_bucket(self, name: str, versioned: bool = False) -> None:
        fs = self.filesystem()
        with contextlib.suppress(FileExistsError):
            fs.mkdir(name)
        if versioned:
            fs.call_s3(
                "put_bucket_versioning",
                Bucket=name,
                VersioningConfiguration={"Status": "Enabled"},
            )

    def put(self, path: str, data: bytes) -> str | None:
        """Write ``data`` at ``bucket/key``; the new version id, if any."""
        fs = self.filesystem()
        bucket, _, key = path.partition("/")
        answer = fs.call_s3("put_object", Bucket=bucket, Key=key, Body=data)
        version = answer.get("VersionId")
        return None if version in (None, "null") else str(version)


@contextlib.contextmanager
def moto_server(
    log_path: str | None = None, check_credentials: bool = True
) -> Iterator[S3Server]:
    """Run moto's S3 server on 127.0.0.1 until the block ends.

    With ``check_credentials`` false, moto answers any request without
    checking who signed it (and nothing is denied): several times faster per
    request, for benchmarks.
    """
    port = free_port()
    argv = [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)]
    server_env = {"AWS_EC2_METADATA_DISABLED": "true"}
    if check_credentials:
        server_env["INITIAL_NO_AUTH_ACTION_COUNT"] = str(_SETUP_ACTIONS)
    with serve(argv, port, env=server_env, log_path=log_path):
        if check_credentials:
            key_id, secret = _make_user(f"http://{HOST}:{port}")
        else:
            key_id, secret = "mlem-bench", "mlem-bench"
        server = S3Server(port, key_id, secret)
        server.make_bucket(DENIED_BUCKET)
        yield server


def _make_user(endpoint: str) -> tuple[str, str]:
    """A user that may do anything but touch objects in :data:`DENIED_BUCKET`
    or write under :data:`READ_ONLY_PREFIX`."""
    import boto3

    iam = boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="setup",
        aws_secret_access_key="setup",
    )
    iam.create_user(UserName="mlem-test")
    key = iam.create_access_key(UserName="mlem-test")["AccessKey"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
                "Resource": f"arn:aws:s3:::{DENIED_BUCKET}/*",
            },
            {
                "Effect": "Deny",
                "Action": ["s3:PutObject"],
                "Resource": f"arn:aws:s3:::*/{READ_ONLY_PREFIX}/*",
            },
        ],
    }
    iam.put_user_policy(
        UserName="mlem-test", PolicyName="tests", PolicyDocument=json.dumps(policy)
    )
    return str(key["AccessKeyId"]), str(key["SecretAccessKey"])


__all__ = ["DENIED_BUCKET", "READ_ONLY_PREFIX", "REGION", "S3Server", "moto_server"]
