"""Entry point for `flask --app run ...` and for gunicorn (`run:app`)."""

from app import create_app

app = create_app()
