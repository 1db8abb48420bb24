"""Reading an outside report file (fleet/risk/reports.py): a file that cannot be read is
refused whole with the row and the reason, never a server error."""

import pytest

from fleet.risk.reports import ReportFileError, parse_csv


def test_a_readable_file_gives_its_rows() -> None:
    rows = parse_csv(
        'resident_id,reported_at,concern\nr-1,2026-05-05,"lives alone, fell last week"\n'.encode()
    )
    assert [(r.resident_id, r.concern) for r in rows] == [("r-1", "lives alone, fell last week")]


@pytest.mark.parametrize(
    ("data", "says"),
    [
        # csv's own limit: one cell of more than 131,072 characters
        (b"resident_id,reported_at,concern\nr-1,2026-05-05," + b"x" * 200_000 + b"\n", "row 2"),
        (b"resident_id,reported_at,concern\nr-1\x00,2026-05-05,x\n", "NUL"),
        (b"resident,when\nr-1,2026-05-05\n", "lacks the column"),
        (b"resident_id,reported_at,concern\n", "no rows"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_with_the_reason(data: bytes, says: str) -> None:
    with pytest.raises(ReportFileError, match=says):
        parse_csv(data)
