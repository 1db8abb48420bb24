"""The HTTP access log without query strings.

A list's text search travels in the query string (``/api/v1/residents?q=王秀英``), and
uvicorn's access log writes the whole request line: a resident's name would land in
the fleet's log. Health data stays out of logs, so the access log keeps the path and
withholds the query.
"""

import logging

WITHHELD = "?…"


class QueryStringWithheld(logging.Filter):
    """For uvicorn's access logger: its records' args are
    ``(client, method, path_with_query, http_version, status)``."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path, sep, _ = args[2].partition("?")
            if sep:
                record.args = (*args[:2], path + WITHHELD, *args[3:])
        return True


def install() -> None:
    logging.getLogger("uvicorn.access").addFilter(QueryStringWithheld())
