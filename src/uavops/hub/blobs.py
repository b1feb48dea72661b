"""Blob stores: where package files live once a report is registered.

Keys are content addresses (``sha256/ab/abcdef…``), so writing the same file twice is harmless
and a half-finished registration leaves at most an unreferenced blob, never a broken report:
the database row that points at a blob is committed only after the blob is complete.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from ..errors import ConfigError, NotFoundError
from .config import HubConfig

__all__ = ["BlobStore", "LocalBlobStore", "S3BlobStore", "blob_key", "open_blob_store"]


def blob_key(sha256: str) -> str:
    return f"sha256/{sha256[:2]}/{sha256}"


class BlobStore(Protocol):
    def put_file(self, src: Path, key: str, media_type: str) -> None: ...
    def exists(self, key: str) -> bool: ...
    def size(self, key: str) -> int: ...
    def iter_bytes(
        self, key: str, start: int = 0, end: int | None = None, chunk_bytes: int = 1 << 20
    ) -> Iterator[bytes]: ...
    def local_path(self, key: str) -> Path | None: ...


class LocalBlobStore:
    """Files under a folder; writes go to a temporary name and are renamed when complete."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / key

    def put_file(self, src: Path, key: str, media_type: str) -> None:
        target = self._path(key)
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.unlink(missing_ok=True)
        try:
            os.link(src, tmp)  # same file system: no copy; the staging name is removed later
        except OSError:
            shutil.copyfile(src, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            raise NotFoundError(
                "That stored file is missing on the hub; ask the hub administrator."
            ) from None

    def iter_bytes(
        self, key: str, start: int = 0, end: int | None = None, chunk_bytes: int = 1 << 20
    ) -> Iterator[bytes]:
        with open(self._path(key), "rb") as fh:
            fh.seek(start)
            remaining = None if end is None else end - start + 1
            while remaining is None or remaining > 0:
                block = fh.read(chunk_bytes if remaining is None else min(chunk_bytes, remaining))
                if not block:
                    break
                if remaining is not None:
                    remaining -= len(block)
                yield block

    def local_path(self, key: str) -> Path | None:
        return self._path(key)


class S3BlobStore:
    """Any S3-compatible object store through boto3 (AWS, MinIO, Ceph RGW, moto in tests)."""

    def __init__(
        self,
        bucket: str,
        prefix: str,
        *,
        endpoint_url: str | None,
        access_key: str | None,
        secret_key: str | None,
        region: str,
    ) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=region,
            config=Config(retries={"max_attempts": 5, "mode": "standard"}),
        )

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def ensure_bucket(self) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket)

    def put_file(self, src: Path, key: str, media_type: str) -> None:
        if self.exists(key):
            return
        self.client.upload_file(str(src), self.bucket, self._key(key), ExtraArgs={"ContentType": media_type})

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except ClientError:
            return False

    def size(self, key: str) -> int:
        from botocore.exceptions import ClientError

        try:
            return int(self.client.head_object(Bucket=self.bucket, Key=self._key(key))["ContentLength"])
        except ClientError:
            raise NotFoundError(
                "That stored file is missing on the hub; ask the hub administrator."
            ) from None

    def iter_bytes(
        self, key: str, start: int = 0, end: int | None = None, chunk_bytes: int = 1 << 20
    ) -> Iterator[bytes]:
        rng = f"bytes={start}-{'' if end is None else end}"
        body = self.client.get_object(Bucket=self.bucket, Key=self._key(key), Range=rng)["Body"]
        try:
            yield from body.iter_chunks(chunk_bytes)
        finally:
            body.close()

    def local_path(self, key: str) -> Path | None:
        return None


def open_blob_store(config: HubConfig) -> BlobStore:
    """The store named by ``config.blob_url`` (``s3://bucket/prefix``) or local files."""
    if not config.blob_url:
        return LocalBlobStore(config.data_dir / "blobs")
    if not config.blob_url.startswith("s3://"):
        raise ConfigError(
            f"The blob store '{config.blob_url}' is not supported; use s3://bucket/prefix "
            "or leave it empty for files in the data folder."
        )
    bucket, _, prefix = config.blob_url[5:].partition("/")
    store = S3BlobStore(
        bucket,
        prefix,
        endpoint_url=config.s3_endpoint_url,
        access_key=config.s3_access_key,
        secret_key=config.s3_secret_key,
        region=config.s3_region,
    )
    store.ensure_bucket()
    return store
