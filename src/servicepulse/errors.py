"""The product's errors: what a caller did wrong or what stood in its way, said for a user.

Four kinds, all under `ServicePulseError`, each with the HTTP status the web answers and the
exit status the command line ends with (docs/architecture.md):

| error            | meaning                                              | HTTP | exit |
|------------------|------------------------------------------------------|------|------|
| `InvalidRequest` | the request itself is wrong (a bad value, a period…) | 422  | 2    |
| `NotFound`       | what the request names does not exist (or is hidden) | 404  | 4    |
| `Conflict`       | it clashes with what is stored (a duplicate, a state)| 409  | 5    |
| `Unavailable`    | a service it needs is down or busy: try again later  | 503  | 6    |

Anything else that escapes a route or a command is a bug: a 500 (exit 1) logged with its
traceback under a short reference that the user is shown, never the traceback itself. A
`KeyError` is such a bug, not a "not found": raise `NotFound` for a missing thing.

`InvalidRequest` is also a `ValueError` and `NotFound` a `LookupError`, so code that catches
those (a parser turning a ValueError into a form message) keeps working unchanged.

This module is at the bottom of the layers (with records, store and config): every layer may
raise these; only the web app and the CLI's start turn them into answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol


class _Validation(Protocol):
    """What `InvalidRequest.of` reads of a pydantic `ValidationError` (this module imports
    no library: it sits below everything)."""

    def errors(self, *, include_url: bool = True) -> Iterable[Mapping[str, Any]]: ...


class ServicePulseError(Exception):
    """An error meant for the user: its message says what was wrong, where, and what to do."""

    http_status = 500
    exit_code = 1

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else type(self).__name__


class InvalidRequest(ServicePulseError, ValueError):
    """The request is wrong as given: a value out of range, an unknown name, a bad period."""

    http_status = 422
    exit_code = 2

    @classmethod
    def of(cls, error: _Validation) -> InvalidRequest:
        """A pydantic `ValidationError` of values a caller gave (a query the code builds from
        its parameters, not one FastAPI parsed) as one line: "where: problem; ...". Raise it
        `from None`: any other ValidationError is a bug, and the app answers it 500."""
        problems = []
        for problem in error.errors(include_url=False):
            where = ".".join(str(part) for part in problem.get("loc", ()))
            text = str(problem.get("msg", "invalid"))
            text = text.removeprefix("Value error, ")  # a validator's own message
            problems.append(f"{where}: {text}" if where else text)
        return cls("; ".join(problems) or "invalid request")


class NotFound(ServicePulseError, LookupError):
    """What the request names does not exist, or the caller may not see it."""

    http_status = 404
    exit_code = 4


class Conflict(ServicePulseError):
    """The request clashes with what is stored: a duplicate, an already-finished task."""

    http_status = 409
    exit_code = 5


class Unavailable(ServicePulseError):
    """A service the request needs is down or busy (the database, a mail server): retry."""

    http_status = 503
    exit_code = 6
