"""Errors of registry operations, each with the HTTP status the API answers with.

RegistryError
 ├── NotFound   404  missing, or outside the caller's scope (indistinguishable)
 ├── Forbidden  403  the caller's role may not do this
 ├── Conflict   409  clashes with what is registered (duplicate, wrong state)
 ├── Invalid    422  a value that refers to nothing or makes no sense
 └── Unavailable 503 a server the operation needs (the broker) did not answer
"""


class RegistryError(Exception):
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(RegistryError):
    status = 404


class Forbidden(RegistryError):
    status = 403


class Conflict(RegistryError):
    status = 409


class Invalid(RegistryError):
    status = 422


class Unavailable(RegistryError):
    status = 503
