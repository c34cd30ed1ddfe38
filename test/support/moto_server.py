"""moto_server (moto 5.2.1) with the S3 CopyObject conditions that S3 checks and moto does not.

Every moto_server of the test suite (jest's globalSetup, the serial one, the twin's private ones)
starts from here, so that a test of a conditional CopyObject asserts what S3 does:

- ``x-amz-copy-source-if-match``: "Copies the object if its entity tag (ETag) matches the
  specified tag", else 412 Precondition Failed (Amazon S3 API Reference, CopyObject, request
  headers, https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html);
- ``If-Match`` on the destination: "Copies the object if the ETag ... matches the ETag of an
  existing object at the destination. Otherwise, Amazon S3 returns a 412 Precondition Failed
  error" (CopyObjectRequest IfMatch, AWS SDK reference; conditional writes, Amazon S3 User Guide,
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html), and a missing
  destination answers as PutObject's If-Match does in moto (NoSuchKey);
- ``If-None-Match: *`` on the destination: 412 when the key exists.

- UploadPartCopy ``x-amz-copy-source-if-match``: 412 when the source's ETag differs ("UploadPartCopy",
  request headers, https://docs.aws.amazon.com/AmazonS3/latest/API/API_UploadPartCopy.html);
- CompleteMultipartUpload ``If-Match``: "Uploads the object only if the ETag ... matches", else 412,
  and NoSuchKey when the key is absent ("CompleteMultipartUpload", request headers,
  https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html).

- KMS Decrypt of a multi-Region key's ciphertext: moto writes the key id into a fixed 36-byte field
  of its ciphertext format, which cuts a multi-Region key's 40-character ``mrk-`` id short, so no
  Region (the primary's included) finds the key again. The cut id is resolved to the one key of
  the Region whose id it starts, as KMS's own ciphertexts name the key in full ("Multi-Region keys
  in AWS KMS": a replica decrypts what its primary encrypted).

moto 5.2.1 checks only ``x-amz-copy-source-if-none-match`` on CopyObject, no source condition on
UploadPartCopy, and only ``If-None-Match`` on CompleteMultipartUpload (moto/s3/responses.py).
Nothing else is changed. The checks are not atomic with the write on moto's threaded server (nor
is moto's own PutObject If-Match check): suites that race writers use the serial server.

Usage: python3 moto_server.py [--serial] -H 127.0.0.1 -p PORT
(``--serial`` serves one request at a time, see test/support/services.ts.)
"""
import sys
from urllib.parse import parse_qs, unquote, urlparse

from moto.s3 import responses
from moto.s3.exceptions import MissingKey, PreconditionFailed

_copy_object = responses.S3Response.copy_object


def _same(etag_header, etag):
    # S3 does not care about the quotes around an ETag, and neither does moto's PutObject check.
    return etag_header.replace('"', "") == etag.replace('"', "")


def _check_copy_source(self):
    # x-amz-copy-source is "bucket/key?versionId=v", URL-encoded, as moto parses it itself.
    copy_source = self.headers.get("x-amz-copy-source")
    if isinstance(copy_source, bytes):
        copy_source = copy_source.decode("utf-8")
    parsed = urlparse(copy_source)
    src_bucket, src_key = unquote(parsed.path).lstrip("/").split("/", 1)
    src_version = parse_qs(parsed.query).get("versionId", [None])[0]
    wanted = self.headers.get("x-amz-copy-source-if-match")
    source = self.backend.get_object(src_bucket, src_key, version_id=src_version)
    if wanted and source is not None and not _same(wanted, source.etag):
        raise PreconditionFailed("x-amz-copy-source-If-Match")


def copy_object(self):
    _check_copy_source(self)
    key_name = self.parse_key_name()
    if_match = self.headers.get("If-Match")
    if if_match:
        destination = self.backend.get_object(self.bucket_name, key_name)
        if destination is None:
            raise MissingKey(key=key_name)
        if not _same(if_match, destination.etag):
            raise PreconditionFailed("If-Match")
    if self.headers.get("If-None-Match") == "*" and self.backend.get_object(self.bucket_name, key_name) is not None:
        raise PreconditionFailed("If-None-Match")
    return _copy_object(self)


responses.S3Response.copy_object = copy_object

_upload_part_copy = responses.S3Response.upload_part_copy


def upload_part_copy(self):
    _check_copy_source(self)
    return _upload_part_copy(self)


responses.S3Response.upload_part_copy = upload_part_copy

_key_response_post = responses.S3Response._key_response_post


def key_response_post(self, request, body, bucket_name, query, key_name):
    if_match = request.headers.get("If-Match")
    if if_match and query.get("uploadId"):
        existing = self.backend.get_object(bucket_name, key_name)
        # A retried completion of this very upload is idempotent in S3, as moto has it.
        done = existing is not None and existing.multipart and existing.multipart.id == query["uploadId"][0]
        if not done:
            if existing is None:
                raise MissingKey(key=key_name)
            if not _same(if_match, existing.etag):
                raise PreconditionFailed("If-Match")
    return _key_response_post(self, request, body, bucket_name, query, key_name)


responses.S3Response._key_response_post = key_response_post

from moto.kms import models as kms_models  # noqa: E402
from moto.kms import utils as kms_utils  # noqa: E402

_kms_decrypt = kms_utils.decrypt


def kms_decrypt(master_keys, ciphertext_blob, encryption_context):
    try:
        cut = kms_utils._deserialize_ciphertext_blob(ciphertext_blob=ciphertext_blob).key_id
    except Exception:
        return _kms_decrypt(master_keys, ciphertext_blob, encryption_context)
    if cut not in master_keys:
        whole = [k for k in master_keys if k.startswith("mrk-") and k[: len(cut)] == cut]
        if len(whole) == 1:
            return _kms_decrypt({cut: master_keys[whole[0]]}, ciphertext_blob, encryption_context)[0], whole[0]
    return _kms_decrypt(master_keys, ciphertext_blob, encryption_context)


kms_utils.decrypt = kms_decrypt
kms_models.decrypt = kms_decrypt


def serve(argv):
    if argv and argv[0] == "--serial":
        from werkzeug.serving import run_simple
        from moto.server import DomainDispatcherApplication, create_backend_app

        args = dict(zip(argv[1::2], argv[2::2]))
        run_simple(args.get("-H", "127.0.0.1"), int(args["-p"]), DomainDispatcherApplication(create_backend_app), threaded=False)
    else:
        from moto.server import main

        main(argv)


if __name__ == "__main__":
    serve(sys.argv[1:])
