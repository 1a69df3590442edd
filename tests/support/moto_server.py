#!/usr/bin/env python3
"""moto's DynamoDB and DynamoDB Streams for tests, one request at a time.

moto's threaded server runs requests concurrently and does not make one
conditional write atomic against another, so two workers racing for the
same task could both win. Every request here runs under one lock, which
gives the one-item atomicity DynamoDB promises (and more).

Usage: moto_server.py [PORT]   (0 or nothing = a free port)
Prints "PORT <n>" on stdout once it listens on 127.0.0.1, then serves
until stdin closes (the test process ended, however it ended).
Exit status 3 when moto is not installed, with the reason on stderr.
"""

import logging
import sys
import threading


def main():
    try:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication, create_backend_app)
        from werkzeug.serving import make_server
    except ImportError as e:
        print(f"moto_server: moto is not installed ({e})", file=sys.stderr)
        return 3

    # One log line per request would drown the test's own output.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serialized(environ, start_response):
        # The body is consumed inside the lock too: moto reads it lazily.
        with lock:
            return list(app(environ, start_response))

    server = make_server("127.0.0.1", port, serialized, threaded=True)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    print(f"PORT {server.server_port}", flush=True)
    try:
        while sys.stdin.buffer.read(4096):
            pass
    except KeyboardInterrupt:
        pass
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
