"""gunicorn's own settings for Datang, read from the directory gunicorn starts in
(scripts/serve.sh and the benches start it at the repository's root)."""

import gc


def post_worker_init(worker):
    # The app and all it built at start-up live as long as the worker. Out of the
    # collector's reach, a full collection no longer walks them every time: that
    # walk was 85 ms, long enough to be the slowest requests' wait
    # (docs/performance.md, "The collector").
    gc.freeze()
    worker.log.info("froze %d start-up objects out of the collector's reach", gc.get_freeze_count())
