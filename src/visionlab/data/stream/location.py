"""Where a stream lives: a local folder or an S3 prefix (`s3://bucket/prefix`).

The endpoint of an S3-compatible store comes from config (`endpoint_url`); credentials come
only from the standard AWS sources (environment variables, a profile, an instance role), so no
file of a run, a sweep or a checkpoint ever holds them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from visionlab.errors import DataError
from visionlab.utils.files import atomic_write

REMOTE_PREFIX = "s3://"


@dataclass(frozen=True)
class StreamLocation:
    uri: str
    endpoint_url: str | None = None

    def __post_init__(self) -> None:
        if "://" in self.uri and not self.remote:
            raise DataError(f"{self.uri}: a stream is a local folder or an s3://bucket/prefix")

    @property
    def remote(self) -> bool:
        return self.uri.startswith(REMOTE_PREFIX)

    def child(self, name: str) -> str:
        """The URI (or local path) of `name` inside the stream."""
        if self.remote:
            return f"{self.uri.rstrip('/')}/{name}"
        return str(Path(self.uri).expanduser().resolve() / name)

    @property
    def storage_options(self) -> dict:
        """What litdata passes to its S3 client: the endpoint, never credentials."""
        return {"endpoint_url": self.endpoint_url} if self.remote and self.endpoint_url else {}

    @cached_property
    def _client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint_url)

    def _key(self, name: str) -> tuple[str, str]:
        bucket, _, prefix = self.uri.removeprefix(REMOTE_PREFIX).partition("/")
        return bucket, f"{prefix.strip('/')}/{name}".lstrip("/")

    def read_bytes(self, name: str) -> bytes:
        """A file of the stream; a DataError naming the stream when it is missing or the store
        cannot be reached."""
        if not self.remote:
            path = Path(self.child(name))
            if not path.is_file():
                raise DataError(f"{self.uri}: no {name}, so this is not a visionlab stream{HINT}")
            return path.read_bytes()
        import botocore.exceptions as aws

        bucket, key = self._key(name)
        try:
            return self._client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except aws.NoCredentialsError as err:
            raise DataError(f"{self.uri}: {err}; {CREDENTIALS}") from err
        except aws.ClientError as err:
            if err.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                missing = f"{self.uri}: no {name}, so this is not a visionlab stream{HINT}"
                raise DataError(missing) from None
            raise DataError(f"{self.uri}: cannot read {name} ({err})") from err
        except aws.BotoCoreError as err:
            raise DataError(f"{self.uri}: cannot read {name} ({err})") from err

    def write_bytes(self, name: str, data: bytes) -> None:
        if not self.remote:
            path = Path(self.child(name))
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))
            return
        import botocore.exceptions as aws

        bucket, key = self._key(name)
        try:
            self._client.put_object(Bucket=bucket, Key=key, Body=data)
        except aws.NoCredentialsError as err:
            raise DataError(f"{self.uri}: {err}; {CREDENTIALS}") from err
        except (aws.ClientError, aws.BotoCoreError) as err:
            raise DataError(f"{self.uri}: cannot write {name} ({err})") from err


HINT = " (write one with: python -m visionlab.data.stream write data=<source> out=<uri>)"
CREDENTIALS = "give them as AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile (AWS_PROFILE)"
