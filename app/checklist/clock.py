"""The checklist's "now": the server's clock of app/clock.py, which tests may move."""

from ..clock import now  # noqa: F401
