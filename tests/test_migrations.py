"""The schema comes from the migrations, and the operator commands of docs/product-rules.md."""

from __future__ import annotations

import logging

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import func, inspect, select

from app import create_app
from app.extensions import db
from app.models import Branch, Role, User


@pytest.fixture
def empty_app(database_url):
    """An app on an empty database: no create_all, no demo data."""
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=database_url)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _upgrade(app) -> None:
    # Alembic's env.py configures logging from alembic.ini; keep pytest's loggers working.
    disabled = {
        name: logger.disabled
        for name, logger in logging.root.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    with app.app_context():
        upgrade()
    for name, was in disabled.items():
        logging.getLogger(name).disabled = was


def test_upgrade_from_empty_creates_every_table(empty_app):
    _upgrade(empty_app)
    with empty_app.app_context():
        tables = set(inspect(db.engine).get_table_names())
        assert "alembic_version" in tables
        missing = set(db.metadata.tables) - tables
        assert not missing, f"tables the migrations do not create: {sorted(missing)}"


def test_models_and_migrations_agree(empty_app):
    """`flask db migrate` would find nothing to do: no model change lacks a migration."""
    _upgrade(empty_app)
    with empty_app.app_context():
        migrate_ext = empty_app.extensions["migrate"]
        with db.engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={
                    "compare_type": migrate_ext.configure_args.get("compare_type", True),
                    "render_as_batch": True,
                },
            )
            diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models and migrations differ: {diff}"


def test_upgrade_twice_is_harmless_and_the_app_then_works(empty_app):
    _upgrade(empty_app)
    _upgrade(empty_app)
    runner = empty_app.test_cli_runner()
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    client = empty_app.test_client()
    assert client.get("/healthz").get_json() == {"status": "ok"}


# --- operator commands ------------------------------------------------------


def counts(app) -> tuple[int, int]:
    with app.app_context():
        return (
            db.session.scalar(select(func.count()).select_from(Branch)),
            db.session.scalar(select(func.count()).select_from(User)),
        )


@pytest.fixture
def bare_app(database_url):
    """Tables made, but no demo data yet."""
    app = create_app(
        "testing", SQLALCHEMY_DATABASE_URI=database_url, DEMO_PASSWORD="seed-pass-1234"
    )
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_seed_demo_twice_is_safe(bare_app):
    runner = bare_app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "2 branches and 9 users added" in first.output
    after_first = counts(bare_app)
    assert after_first == (2, 9)
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0, second.output
    assert "0 branches and 0 users added" in second.output
    assert counts(bare_app) == after_first
    client = bare_app.test_client()
    from .conftest import CSRF_META

    token = CSRF_META.search(client.get("/login").get_data(as_text=True)).group(1)
    signed = client.post(
        "/login", data={"username": "area1", "password": "seed-pass-1234", "csrf_token": token}
    )
    assert signed.status_code == 302


def test_seed_demo_refuses_in_production(database_url):
    app = create_app(
        "production",
        SQLALCHEMY_DATABASE_URI=database_url,
        SECRET_KEY="s" * 32,
        DEMO_PASSWORD="seed-pass-1234",
    )
    with app.app_context():
        db.create_all()
    try:
        result = app.test_cli_runner().invoke(args=["seed-demo"])
        assert result.exit_code != 0
        assert "production" in result.output
        assert counts(app) == (0, 0)
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_create_user_asks_for_the_password(bare_app):
    runner = bare_app.test_cli_runner()
    runner.invoke(args=["seed-demo"])
    result = runner.invoke(
        args=[
            "create-user",
            "lobby9",
            "--role",
            "lobby_manager",
            "--branch",
            "north",
            "--display-name",
            "大堂九",
        ],
        input="a-good-password\na-good-password\n",
    )
    assert result.exit_code == 0, result.output
    with bare_app.app_context():
        user = db.session.scalar(select(User).where(User.username == "lobby9"))
        assert user.role is Role.LOBBY_MANAGER
        assert [b.code for b in user.branches] == ["north"]
        assert user.check_password("a-good-password")
        assert "a-good-password" not in user.password_hash


@pytest.mark.parametrize(
    "args, input, message",
    [
        (
            ["create-user", "x1", "--role", "teller", "--branch", "nowhere"],
            "a-good-password\na-good-password\n",
            "no branch with code nowhere",
        ),
        (
            ["create-user", "lobby1", "--role", "teller", "--branch", "demo"],
            "a-good-password\na-good-password\n",
            "already exists",
        ),
        (
            ["create-user", "x2", "--role", "teller", "--branch", "demo"],
            "short\nshort\n",
            "at least 10 characters",
        ),
        (
            ["create-user", "x3", "--role", "teller"],
            "a-good-password\na-good-password\n",
            "--branch is required",
        ),
        (
            ["create-user", "x4", "--role", "emperor", "--branch", "demo"],
            "a-good-password\na-good-password\n",
            "emperor",
        ),
    ],
)
def test_create_user_refuses_bad_input(bare_app, args, input, message):
    runner = bare_app.test_cli_runner()
    runner.invoke(args=["seed-demo"])
    before = counts(bare_app)
    result = runner.invoke(args=args, input=input)
    assert result.exit_code != 0
    assert message in result.output
    assert counts(bare_app) == before
