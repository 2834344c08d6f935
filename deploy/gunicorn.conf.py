"""gunicorn settings shared by `make run` and the systemd unit (bind comes from the command line)."""
workers = 2
worker_class = "sync"
# Load the app once in the master; the app opens no database connection at import, so forking is safe.
preload_app = True
timeout = 60
graceful_timeout = 20
# Access log without query strings: searches carry names and NIKs, which must not reach the logs.
accesslog = "-"
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
errorlog = "-"
# No control socket: the service user has no home and systemd already supervises the server.
control_socket_disable = True

# Exit status for "the database cannot be used": the systemd unit does not restart on it (no crash loop).
BAD_DATABASE_EXIT = 3


def on_starting(server):
    """Refuse to start, with a clear message, when the database file is missing, damaged or foreign."""
    import sys

    from webapp.db import startup_problem

    app = server.app.wsgi()
    problem = startup_problem(app.config["DATABASE"])
    if problem:
        print(f"Rekap Bansos tidak dapat dimulai: {problem}", file=sys.stderr, flush=True)
        sys.exit(BAD_DATABASE_EXIT)
