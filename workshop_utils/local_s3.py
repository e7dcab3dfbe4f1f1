"""The local S3 server: moto's, with its write-once check made atomic.

moto checks a PUT's ``If-None-Match: *`` and then stores the object, two steps that its threaded
server can interleave: two writers of one new key both won, now and then
(``tests/test_storage.py::test_write_once_holds_under_concurrent_writers_and_versioning_keeps_old_objects``
failed one CI run in 2026-12-06's). Real S3 refuses the second writer; here one lock around moto's
object PUT does, so local runs keep the same write-once guarantee. Reads stay concurrent.

    python -m workshop_utils.local_s3 -H 127.0.0.1 -p PORT   (moto.server's arguments)
"""

from __future__ import annotations

import sys
import threading

from moto.s3.responses import S3Response
from moto.server import main

_PUT_LOCK = threading.Lock()
_put_object = S3Response.put_object


def _atomic_put_object(self: S3Response):  # noqa: ANN202 - moto's response tuple
    with _PUT_LOCK:
        return _put_object(self)


S3Response.put_object = _atomic_put_object

if __name__ == "__main__":
    main(sys.argv[1:])
