"""Key-looking values never go back out: not in errors, not in import reports.

A bind key (32 hexadecimal digits, also written in pairs with ':' '-' or ' ') pasted in
the wrong field or column used to be echoed in the error that refused it — into the
browser, its history, screenshots and support tickets. Every error the API answers with
passes through :func:`redact` (the handlers in fleet.api.limits, the import report).
"""

import re
from typing import Any

KEY_LIKE = re.compile(r"(?:[0-9A-Fa-f]{2}[:\- ]?){15}[0-9A-Fa-f]{2}")
WITHHELD = "<withheld: looks like a key>"


def redact(text: str) -> str:
    return KEY_LIKE.sub(WITHHELD, text)


def redact_all(value: Any) -> Any:
    """``value`` with every string in it redacted (lists, tuples and dicts walked)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_all(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_all(v) for v in value]
    return value
