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
