"""`flask --app run import-products FILE`: load the product catalogue from a CSV."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from .catalogue import CatalogueError, import_products


@click.command("import-products")
@with_appcontext
@click.argument("csv_file", type=click.File("rb"))
@click.option(
    "--branch",
    "branch_codes",
    multiple=True,
    help="Offer the products in this branch; repeat for several. Default: all.",
)
def import_products_command(csv_file, branch_codes):
    """Load or update products from a CSV (docs/setup-branch.md); all rows or none."""
    try:
        done = import_products(csv_file.read(), branch_codes)
    except CatalogueError as error:
        for line, what in error.problems:
            click.echo(f"{csv_file.name}:{line}: {what}" if line else what, err=True)
        raise click.ClickException("nothing was imported") from None
    click.echo(
        f"products: {done['added']} added, {done['updated']} updated, "
        f"offered in {', '.join(done['branches'])}"
    )
