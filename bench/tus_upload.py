#!/usr/bin/env python3
"""The Python tus client (tuspy, PyPI `tuspy`) as bench/run.sh's upload
section runs it:

    python3 bench/tus_upload.py FILE URL [CHUNK_BYTES]

uploads FILE to the tus server's creation URL with tuspy's defaults (one
PATCH of the whole file, read into memory: tuspy's chunk_size defaults to
sys.maxsize), or in pieces of CHUNK_BYTES, with the metadata qmgr sends
(filename, filetype). Exits non-zero when the upload
fails; prints nothing otherwise.
"""

import os
import sys

from tusclient import client


def main() -> None:
    path, url = sys.argv[1], sys.argv[2]
    # The metadata qmgr sends too (tuspy without any sends an empty
    # Upload-Metadata, which @tus/server refuses: 400).
    kwargs = {"metadata": {"filename": os.path.basename(path), "filetype": "application/octet-stream"}}
    if len(sys.argv) > 3:
        kwargs["chunk_size"] = int(sys.argv[3])
    uploader = client.TusClient(url).uploader(path, **kwargs)
    uploader.upload()
    if uploader.offset != uploader.get_file_size():
        sys.exit(f"tuspy stopped at {uploader.offset} of {uploader.get_file_size()} bytes")


if __name__ == "__main__":
    main()
