"""Operator commands: `seed-demo`, `create-user`, backups. The features add their own
(`import-products` in app/admin/commands.py, `rebuild-figures` in app/supervisor/commands.py).

They are listed in docs/product-rules.md ("Commands").
"""

from __future__ import annotations

from datetime import datetime

import click
from flask import Flask, current_app
from sqlalchemy import select

from .backup import backup, restore
from .demo import seed_demo
from .extensions import db
from .models import Branch, Role, User


def register(app: Flask) -> None:
    @app.cli.command("seed-demo")
    def seed_demo_command():
        """Add the demo branches, users and data if they are not there yet."""
        if current_app.config["ENV_NAME"] == "production":
            raise click.ClickException("seed-demo refuses to run in production.")
        password = current_app.config["DEMO_PASSWORD"]
        if not password:
            raise click.ClickException("DATANG_DEMO_PASSWORD is not set.")
        added = seed_demo(password)
        click.echo(f"demo data: {added['branches']} branches and {added['users']} users added")

    @app.cli.command("backup")
    @click.argument("target", required=False)
    def backup_command(target):
        """Write a consistent backup of the live database to TARGET."""
        url = current_app.config["SQLALCHEMY_DATABASE_URI"]
        target = target or f"datang-{datetime.now():%Y%m%d-%H%M%S}.backup"
        click.echo(f"backup written to {backup(url, target)}")

    @app.cli.command("restore")
    @click.argument("source")
    @click.confirmation_option(prompt="This replaces the database with the backup. Go on?")
    def restore_command(source):
        """Replace the database with a backup made by `backup`."""
        db.session.remove()
        db.engine.dispose()
        restore(current_app.config["SQLALCHEMY_DATABASE_URI"], source)
        click.echo("restored")

    @app.cli.command("create-user")
    @click.argument("username")
    @click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
    @click.option(
        "--branch",
        "branch_codes",
        multiple=True,
        help="A branch code; repeat for several. Not needed for admin.",
    )
    @click.option("--display-name", default="")
    @click.password_option(prompt="Password", confirmation_prompt=True)
    def create_user_command(username, role, branch_codes, display_name, password):
        """Add a user; asks for the password."""
        role = Role(role)
        if db.session.scalar(select(User).where(User.username == username)):
            raise click.ClickException(f"user {username} already exists")
        if len(password) < 10:
            raise click.ClickException("the password must have at least 10 characters")
        branches = []
        for code in branch_codes:
            branch = db.session.scalar(select(Branch).where(Branch.code == code))
            if branch is None:
                raise click.ClickException(f"no branch with code {code}")
            branches.append(branch)
        if role is not Role.ADMIN and not branches:
            raise click.ClickException("--branch is required for this role")
        user = User(
            username=username, role=role, display_name=display_name or username, branches=branches
        )
        user.set_password(password)
        db.session.add(user)
        db.session.commit()
        click.echo(f"user {username} created ({role.value}, {', '.join(branch_codes) or 'all'})")
