"""Errors of the fake Telegram Bot API, worded exactly as Telegram words them.

Tests may import the constants to assert on descriptions without retyping them.
"""

from __future__ import annotations

from typing import Any

# 400
CHAT_NOT_FOUND = "Bad Request: chat not found"
CHAT_ID_EMPTY = "Bad Request: chat_id is empty"
TEXT_EMPTY = "Bad Request: message text is empty"
TEXT_TOO_LONG = "Bad Request: message is too long"
CAPTION_TOO_LONG = "Bad Request: message caption is too long"
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
MESSAGE_TO_EDIT_NOT_FOUND = "Bad Request: message to edit not found"
MESSAGE_TO_DELETE_NOT_FOUND = "Bad Request: message to delete not found"
MESSAGE_CANT_BE_EDITED = "Bad Request: message can't be edited"
REPLY_NOT_FOUND = "Bad Request: message to be replied not found"
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
BUTTON_DATA_INVALID = "Bad Request: BUTTON_DATA_INVALID"
BUTTON_URL_INVALID = "Bad Request: BUTTON_URL_INVALID"
REPLY_MARKUP_TOO_LONG = "Bad Request: REPLY_MARKUP_TOO_LONG"
CANT_PARSE_ENTITIES = "Bad Request: can't parse entities: "
UNSUPPORTED_PARSE_MODE = "Bad Request: unsupported parse_mode"

# 401, 403, 404
UNAUTHORIZED = "Unauthorized"
NOT_FOUND = "Not Found"
BLOCKED = "Forbidden: bot was blocked by the user"
DEACTIVATED = "Forbidden: user is deactivated"
CANT_INITIATE = "Forbidden: bot can't initiate conversation with a user"
KICKED_FROM_GROUP = "Forbidden: bot was kicked from the group chat"
KICKED_FROM_SUPERGROUP = "Forbidden: bot was kicked from the supergroup chat"
KICKED_FROM_CHANNEL = "Forbidden: bot is not a member of the channel chat"

# 409
CONFLICT_WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
CONFLICT_OTHER_POLLER = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
CONFLICT_SET_WEBHOOK = "Conflict: terminated by setWebhook request"


def too_many_requests(retry_after: int) -> str:
    """The description Telegram sends with HTTP 429."""
    return f"Too Many Requests: retry after {retry_after}"


class ApiError(Exception):
    """A Bot API call that fails the way Telegram fails it: HTTP status plus description."""

    def __init__(
        self, status: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{status} {description}")
        self.status = status
        self.description = description
        self.parameters = parameters

    def body(self) -> dict[str, Any]:
        """The JSON body Telegram answers with."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(description: str) -> ApiError:
    """A 400; `description` without the "Bad Request: " prefix is prefixed."""
    if not description.startswith("Bad Request: "):
        description = "Bad Request: " + description
    return ApiError(400, description)


def forbidden(description: str) -> ApiError:
    """A 403 with one of the Forbidden descriptions above."""
    return ApiError(403, description)


def rate_limited(retry_after: int) -> ApiError:
    """A 429 carrying `parameters.retry_after`, which is what PTB turns into RetryAfter."""
    return ApiError(429, too_many_requests(retry_after), {"retry_after": retry_after})


class FakeUsageError(AssertionError):
    """A test asked the fake for something impossible (unknown user, missing button...).

    An AssertionError so that pytest reports it as a failed expectation of the test.
    """
