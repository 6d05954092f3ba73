"""tuspyserver (a tus 1.0 server as a FastAPI router) as tests/it/upload.rs
runs it: `python3 server.py DIR [PORT]` serves tus uploads at
http://127.0.0.1:PORT/files/, storing each upload's bytes in DIR/ID. It
listens on PORT (0 or none: an ephemeral one), prints `PORT` once it is
ready, and exits
when its standard input closes (the test that started it ended).
Installed by .ci/run: tuspyserver, fastapi (its dependency) and uvicorn.
"""

import asyncio
import os
import socket
import sys
import threading

import uvicorn
from fastapi import FastAPI
from tuspyserver import create_tus_router


def main() -> None:
    directory = sys.argv[1]
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    app = FastAPI()
    app.include_router(create_tus_router(prefix="files", files_dir=directory))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(64)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))

    def watch_stdin() -> None:
        sys.stdin.read()
        os._exit(0)

    threading.Thread(target=watch_stdin, daemon=True).start()
    print(sock.getsockname()[1], flush=True)
    asyncio.run(server.serve(sockets=[sock]))


if __name__ == "__main__":
    main()
