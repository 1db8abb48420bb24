"""The fleet's one exception tree. Each error knows the HTTP status the API answers
with; ``fleet.main`` maps the root to a response in one place, so a route (or the
service it calls) raises the error that says what went wrong and never builds an
HTTP answer itself.

FleetError                500  a fault of ours (logged, never shown in detail)
 ├── Invalid              422  a value that refers to nothing or makes no sense
 ├── NotFound             404  missing, or outside the caller's scope (indistinguishable)
 ├── Unauthorized         401  no valid credentials
 ├── Forbidden            403  the caller's role may not do this
 ├── Conflict             409  clashes with what is registered (duplicate, wrong state)
 ├── TooLarge             413  a request body over its limit
 ├── TooManyRequests      429  slow down (sign-in failures); Retry-After says for how long
 └── Unavailable          503  a server the operation needs did not answer

Errors of the fleet's parts subclass these: a refused enrollment token is Forbidden,
an escalation policy that makes no sense is Invalid, a broker that does not answer
the dynamic-security plugin is Unavailable.
"""


class FleetError(Exception):
    status = 500

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers


class Invalid(FleetError):
    status = 422


class NotFound(FleetError):
    status = 404


class Unauthorized(FleetError):
    status = 401

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(FleetError):
    status = 403


class Conflict(FleetError):
    status = 409


class TooLarge(FleetError):
    status = 413


class TooManyRequests(FleetError):
    status = 429

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after_s)})


class Unavailable(FleetError):
    status = 503
