"""``silverguard fleet token``: a bearer token for first set-up and scripts."""

from pathlib import Path

import pytest

from fleet.auth import Role, resolve_caller
from fleet.db.models import Town
from fleet.db.session import make_engine, make_sessionmaker, utcnow
from silverguard.cli import main


def test_token_for_admin_and_staff_with_clear_refusals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    data = str(tmp_path / "fleet")
    assert main(["fleet", "token", "--data-dir", data, "--role", "admin"]) == 0
    admin_token = capsys.readouterr().out.strip()
    assert admin_token.startswith("sg_")

    assert main(["fleet", "token", "--data-dir", data, "--role", "staff", "--subject", "li"]) == 2
    assert "--town" in capsys.readouterr().err
    args = ["fleet", "token", "--data-dir", data, "--role", "staff", "--subject", "li"]
    assert main([*args, "--town", "t-none"]) == 2
    assert "t-none does not exist" in capsys.readouterr().err
    assert (
        main(["fleet", "token", "--data-dir", data, "--role", "caregiver", "--subject", "c-x"]) == 2
    )
    assert "not a registered caregiver" in capsys.readouterr().err

    engine = make_engine(f"sqlite:///{tmp_path / 'fleet' / 'registry.db'}")
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        session.add(Town(id="t-a", name="A", created_at=utcnow()))
    assert main([*args, "--town", "t-a"]) == 0
    staff_token = capsys.readouterr().out.strip()
    # The same name cannot come back with another role.
    assert main(["fleet", "token", "--data-dir", data, "--role", "admin", "--subject", "li"]) == 2
    assert "staff account" in capsys.readouterr().err
    with sessions() as session:
        assert resolve_caller(session, admin_token, utcnow()).role is Role.ADMIN
        staff = resolve_caller(session, staff_token, utcnow())
    engine.dispose()
    assert (staff.role, staff.town_id) == (Role.STAFF, "t-a")
