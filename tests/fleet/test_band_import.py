"""Bulk wristband import: 867 rows, a dry run, a per-row error report, all or nothing."""

import secrets
import time

import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from fleet.auth import Role
from fleet.db.models import Resident, Wristband
from fleet.db.session import utcnow
from fleet.registry import band_import
from tests.fleet.helpers import Api, As, district

DISTRICT_RESIDENTS = 867  # residents living alone who wear a band in the first district


def seed_residents(api: Api, count: int) -> None:
    """Residents r-00001... in c-xingfu, written directly (the API path is tested elsewhere)."""
    now = utcnow()
    with api.fleet.sessions.begin() as session:
        session.add_all(
            Resident(
                id=f"r-{i:05d}",
                display_name=f"居民{i}",
                address="",
                community_id="c-xingfu",
                created_at=now,
            )
            for i in range(1, count + 1)
        )


def csv_rows(count: int) -> list[str]:
    return [
        f"C2:00:00:00:{i >> 8:02X}:{i & 0xFF:02X},{secrets.token_hex(16)},c-xingfu,r-{i:05d},1.4.2"
        for i in range(1, count + 1)
    ]


def post_csv(caller: As, body: bytes, dry_run: bool):  # type: ignore[no-untyped-def]
    return caller.client.post(
        f"/api/v1/wristbands/import?dry_run={'true' if dry_run else 'false'}",
        content=body,
        headers={"Authorization": f"Bearer {caller.token}", "Content-Type": "text/csv"},
    )


def band_count(api: Api) -> int:
    with api.fleet.sessions() as session:
        return session.execute(sa.select(sa.func.count()).select_from(Wristband)).scalar_one()


def test_867_bands_dry_run_then_apply(api: Api):
    district(api)
    seed_residents(api, DISTRICT_RESIDENTS)
    body = (
        "mac,bind_key,community_id,resident_id,firmware\n"
        + "\n".join(csv_rows(DISTRICT_RESIDENTS))
        + "\n"
    ).encode()
    staff = api.as_("staff-north", Role.STAFF, "t-north")

    started = time.perf_counter()
    dry = post_csv(staff, body, dry_run=True)
    dry_s = time.perf_counter() - started
    assert dry.status_code == 200, dry.text
    report = dry.json()
    assert report == {
        "dry_run": True,
        "rows": 867,
        "valid_rows": 867,
        "error_rows": 0,
        "errors": [],
        "applied": False,
        "created": 0,
    }
    assert band_count(api) == 0

    started = time.perf_counter()
    applied = post_csv(staff, body, dry_run=False)
    apply_s = time.perf_counter() - started
    assert applied.status_code == 200, applied.text
    assert applied.json()["created"] == 867
    assert applied.json()["applied"] is True
    assert band_count(api) == 867
    print(f"\nimport of 867 bands: dry run {dry_s * 1000:.0f} ms, apply {apply_s * 1000:.0f} ms")
    assert api.admin.ok("get", "/api/v1/residents/r-00867")["wristband"] == "C2:00:00:00:03:63"
    audit = api.admin.ok("get", "/api/v1/audit?action=wristband.import")
    assert audit[0]["actor"] == "staff:staff-north"
    assert audit[0]["detail"] == {"rows": 867}

    # The same file again: every row is now a duplicate of the registry.
    again = post_csv(staff, body, dry_run=True).json()
    assert again["error_rows"] == 867
    assert {e["message"] for e in again["errors"]} >= {"this band is registered already"}


def test_every_bad_row_is_reported_and_nothing_is_applied(api: Api):
    district(api)
    seed_residents(api, 10)
    admin = api.admin
    admin.ok(
        "post",
        "/api/v1/wristbands",
        {
            "mac": "C2:00:00:00:00:AA",
            "bind_key": "0123456789abcdef" * 2,
            "community_id": "c-xingfu",
        },
        201,
    )
    key = [secrets.token_hex(16) for _ in range(12)]
    lines = [
        "MAC,密钥,社区,居民,固件",  # Chinese headers work too
        f"C2:00:00:00:00:01,{key[0]},c-xingfu,r-00001,1.0",  # row 2: fine
        f"C2:00:00:00:00:0G,{key[1]},c-xingfu,r-00002,1.0",  # row 3: bad MAC
        f"C2:00:00:00:00:01,{key[2]},c-xingfu,r-00003,1.0",  # row 4: MAC repeats row 2
        f"C2:00:00:00:00:AA,{key[3]},c-xingfu,r-00004,1.0",  # row 5: registered already
        f"C2:00:00:00:00:05,{key[4]},c-nowhere,,1.0",  # row 6: unknown community
        f"C2:00:00:00:00:06,{key[5]},c-xingfu,r-99999,1.0",  # row 7: unknown resident
        "C2:00:00:00:00:07,12345,c-xingfu,r-00007,1.0",  # row 8: bad key
        f"C2:00:00:00:00:08,{key[0]},c-xingfu,r-00008,1.0",  # row 9: key repeats row 2
        f"C2:00:00:00:00:09,{key[8]},c-nanhu,,1.0",  # row 10: other town (staff: not theirs)
        f"C2:00:00:00:00:0A,{key[9]},c-heping,r-00009,1.0",  # row 11: resident lives elsewhere
        f"C2:00:00:00:00:0B,{key[10]},c-xingfu,r-00001,1.0",  # row 12: r-00001 twice in file
        "",
        f"c2-00-00-00-00-0c,{key[11].upper()},c-xingfu,,",  # row 14: fine (stock, dashes)
    ]
    body = "\n".join(lines).encode("gb18030")
    staff = api.as_("staff-north", Role.STAFF, "t-north")
    report = post_csv(staff, body, dry_run=False)
    assert report.status_code == 422
    result = report.json()
    assert result["applied"] is False
    assert result["created"] == 0
    assert result["rows"] == 12
    by_row = {}
    for error in result["errors"]:
        by_row.setdefault(error["row"], []).append((error["column"], error["message"]))
    assert set(by_row) == {2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
    assert by_row[3][0][0] == "mac"
    assert "same MAC as row 2" in by_row[4][0][1]
    assert by_row[5] == [("mac", "this band is registered already")]
    assert "c-nowhere" in by_row[6][0][1]
    assert "r-99999" in by_row[7][0][1]
    assert by_row[8][0][0] == "bind_key"
    assert "same key as row 2" in by_row[9][0][1]
    assert "outside your town" in by_row[10][0][1]
    assert "lives in community c-xingfu" in by_row[11][0][1]
    # r-00001 is given two bands (rows 2 and 12): both rows say so.
    assert any("2 bands" in message for _, message in by_row[2])
    assert any("2 bands" in message for _, message in by_row[12])
    assert result["error_rows"] == 11
    assert result["valid_rows"] == 1
    assert band_count(api) == 1  # only the band registered before the import


def test_file_level_problems_get_a_clear_422(api: Api):
    district(api)
    admin = api.admin
    cases = {
        b"": "empty",
        b"mac,bind_key\n": "lacks the column(s): community_id",
        b"mac,colour,community_id,bind_key\n": "unknown column 'colour'",
        b"mac,bind_key,community_id\n": "no rows",
        b"\xff\xfe\x00\x00garbage": "neither UTF-8 nor GB18030",
        b"mac,bind_key,community_id\n\x00\x00": "NUL",
        b'mac,bind_key,community_id\n"unterminated': "",
    }
    for body, message in cases.items():
        response = post_csv(admin, body, dry_run=True)
        assert response.status_code in (200, 422), (body, response.text)
        if response.status_code == 422:
            assert message in response.json()["detail"], (body, response.text)
    big = b"mac,bind_key,community_id\n" + b"x" * (band_import.MAX_BYTES + 1)
    assert post_csv(admin, big, dry_run=True).status_code == 413


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_parsing_arbitrary_bytes_gives_a_report_or_a_file_error(data: bytes):
    try:
        report = band_import.parse(data)
    except band_import.ImportFileError as exc:
        message = str(exc)
        assert message  # every file-level refusal says why
        return
    assert report.rows >= len(report.valid)
    for error in report.errors:
        assert error.row >= 2
        assert error.message


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(alphabet="0123456789ABCDEFabcdef:-G ", max_size=20),
            st.text(alphabet="0123456789abcdefX", max_size=34),
            st.sampled_from(["c-xingfu", "", "c-x,y"]),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_rows_that_pass_parsing_are_well_formed(rows: list[tuple[str, str, str]]):
    body = "mac,bind_key,community_id\n" + "\n".join(",".join(r) for r in rows)
    try:
        report = band_import.parse(body.encode())
    except band_import.ImportFileError:
        return
    for row in report.valid:
        assert len(row.mac) == 17
        assert len(row.key) == 16
        assert row.community_id
