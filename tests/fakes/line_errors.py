"""Errors of the fake LINE Messaging API, with LINE's bodies: `{"message": ..., "details": [...]}`.

The wordings marked "LINE's" are the ones LINE answers with (its reference, its retry-key page,
and what its API is seen to send); the few marked "the fake's" stand where only the status is
documented: assert on the status there, not on the words. Tests may import the constants.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# LINE's.
INVALID_REPLY_TOKEN = "Invalid reply token"
AUTH_HEADER_REQUIRED = (
    "Authorization header required. Must follow the scheme, 'Authorization: Bearer <ACCESS TOKEN>'"
)
AUTH_FAILED = (
    "Authentication failed. Confirm that the access token in the authorization header is valid."
)
RETRY_KEY_ACCEPTED = "The retry key is already accepted"
MONTHLY_LIMIT = "You have reached your monthly limit."
RATE_LIMITED = "The API rate limit has been exceeded. Try again later."
NOT_FOUND = "Not found"
INVALID_TO = "The property, 'to', in the request body is invalid (line: -, column: -)"
NO_RICH_MENU_IMAGE = "must upload richmenu image before applying it to user"
IMAGE_ALREADY_UPLOADED = "An image has already been uploaded to the richmenu"

# The fake's: LINE documents the status, not these words.
RETRY_KEY_NOT_SUPPORTED = "The retry key is not supported for this endpoint"
RETRY_KEY_INVALID = "The retry key must be a UUID in hexadecimal notation"
INVALID_JSON = "The request body is not valid JSON"
INTERNAL_ERROR = "Internal server error"
METHOD_NOT_ALLOWED = "Method not allowed"
UNSUPPORTED_IMAGE = "The image must be a PNG or a JPEG"
IMAGE_TOO_LARGE = "The image must be 1 MB or smaller"
IMAGE_SIZE_INVALID = (
    "The image must be 800 to 2500 pixels wide, at least 250 pixels high, "
    "with a width/height ratio of at least 1.45"
)
IMAGE_SIZE_MISMATCH = "The image size must match the size of the rich menu"


def request_body_errors(count: int) -> str:
    """LINE's summary of a body that failed validation; `details` says what failed."""
    return f"The request body has {count} error(s)"


@dataclass(frozen=True)
class Detail:
    """One entry of `details`: what is wrong, and where (`messages[0].text`)."""

    message: str
    property: str

    def json(self) -> dict[str, str]:
        return {"message": self.message, "property": self.property}


@dataclass(eq=False)
class LineApiError(Exception):
    """A call that fails the way LINE fails it: a status, a body, sometimes a header."""

    status: int
    message: str
    details: list[Detail] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    """More body fields (the `sentMessages` of a push refused with 409)."""

    def __post_init__(self) -> None:
        super().__init__(f"{self.status} {self.message}")

    def body(self) -> dict[str, Any]:
        """The JSON body LINE answers with; `details` only when there are some, as LINE does."""
        body: dict[str, Any] = {"message": self.message}
        if self.details:
            body["details"] = [detail.json() for detail in self.details]
        body.update(self.extra)
        return body


def validation_error(details: list[Detail]) -> LineApiError:
    """A 400 listing every problem found in the request body."""
    return LineApiError(400, request_body_errors(len(details)), list(details))


class FakeUsageError(AssertionError):
    """A test asked the fake for something impossible (an unknown user, a bad event...).

    An AssertionError so that pytest reports it as a failed expectation of the test.
    """
