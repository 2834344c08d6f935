"""WSGI entry point for gunicorn (`gunicorn wsgi:app`) and the flask CLI."""
from webapp import create_app

app = create_app()
