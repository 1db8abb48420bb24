"""A search for a resident's name never reaches the fleet's access log."""

import logging

from fleet.api.access_log import QueryStringWithheld


def test_the_access_log_keeps_the_path_and_withholds_the_query():
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/api/v1/residents?q=王秀英&limit=50", "1.1", 200),
        None,
    )
    assert QueryStringWithheld().filter(record) is True
    line = record.getMessage()
    assert "王秀英" not in line
    assert "/api/v1/residents?…" in line
    plain = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, "%s %s %s", ("a", "GET", "/health"), None
    )
    QueryStringWithheld().filter(plain)
    assert plain.getMessage() == "a GET /health"
