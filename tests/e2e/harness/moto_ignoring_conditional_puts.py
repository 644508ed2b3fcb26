"""moto's S3 server, with the `If-None-Match` header dropped from every
request before moto sees it: a store that ignores conditional writes (as
some S3-compatible stores did before S3 offered them), for the test that
ingot refuses to commit to one.

Run with the interpreter of moto's venv: `python THIS HOST PORT`.
"""

import sys

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


def ignoring_if_none_match(app):
    def wrapped(environ, start_response):
        environ.pop("HTTP_IF_NONE_MATCH", None)
        return app(environ, start_response)

    return wrapped


if __name__ == "__main__":
    host, port = sys.argv[1], int(sys.argv[2])
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, ignoring_if_none_match(app), threaded=True)
