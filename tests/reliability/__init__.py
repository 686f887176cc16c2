"""Reliability (issue #7): soak and crash tests against a real gunicorn server.

The harness is `testbed/reliability.py`; bench/soak.py and bench/crash.py run the long versions.
"""
