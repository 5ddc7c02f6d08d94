"""The domain's errors: what went wrong, in the product's terms, never in HTTP's.

Domain code (accounts, calls, privacy, …) raises these; each surface translates them: the API and
the Twilio webhooks to a status and the JSON error shape (`receptionist.web.errors`), the dashboard
to a page, the CLI to a line on stderr and an exit status.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base: `message` is meant for the person who asked (an owner, an admin, an operator)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """No such thing, or not the asker's to see: the two are deliberately indistinguishable."""


class Conflict(DomainError):
    """The request contradicts the current state (a closed account, a number another account holds)."""


class Invalid(DomainError):
    """The values given are not acceptable (a retention that is not a tier, an unknown role)."""


class Unauthenticated(DomainError):
    """No credentials, or credentials nobody issued."""


class Forbidden(DomainError):
    """A known user asking for what their role does not allow."""


class Unavailable(DomainError):
    """A system the answer depends on cannot be reached now; the same request may work later."""
