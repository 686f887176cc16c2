"""What the tests and the benchmarks share: a live server in its own process, a
browser to drive it, signed-in test clients, the API fuzzer and the reliability
harness (simulated tablets against a real server). Not part of the app: nothing
in app/ imports it, and it may import test tools (Playwright, schemathesis).
"""
