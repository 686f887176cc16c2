"""`flask backup` / `flask restore`: what was accepted before the backup comes back."""

from sqlalchemy import func, select

from app.extensions import db
from app.models import Event

from .conftest import greeted


def _count(app):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Event))


def test_backup_then_restore_brings_back_the_events(app, lobby1, tmp_path):
    assert lobby1.sync([greeted(), greeted()]).status_code == 200
    target = tmp_path / "datang.backup"
    runner = app.test_cli_runner()
    result = runner.invoke(args=["backup", str(target)])
    assert result.exit_code == 0, result.output
    assert target.exists()

    assert lobby1.sync([greeted()]).status_code == 200
    assert _count(app) == 3

    result = runner.invoke(args=["restore", "--yes", str(target)])
    assert result.exit_code == 0, result.output
    assert _count(app) == 2
