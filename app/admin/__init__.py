"""Administration (/admin): branches, users, the product catalogue, the audit log.

No other feature imports it; `init_app` adds its pages and the `import-products` command.
"""

from flask import Blueprint, Flask

from .commands import import_products_command

bp = Blueprint("admin", __name__)


def init_app(app: Flask) -> None:
    """Register the admin pages and command on `app`."""
    # Imported when the app is built, not with the package: their @bp.route decorators
    # fill the blueprint, and they import other features' public surfaces, which in
    # turn may import this package (docs/architecture.md, "Features").
    from . import audit, products, routes  # noqa: F401

    app.cli.add_command(import_products_command)
    app.register_blueprint(bp)
