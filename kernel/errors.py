"""The base of every domain error: a message id a person can read, and the HTTP status."""

from __future__ import annotations


class PorticoError(Exception):
    """A failure we expect and explain; `message_id` names its text in the domain's catalog."""

    message_id = "error_generic"
    title_id = "error_title"  # the page's heading, in the same catalog
    status = 400
    # The same request may well succeed if the person simply sends it again (a router that
    # refused by accident or answered late): the page offers to resend it, not to start over.
    retry_same_request = False

    def __init__(self, detail: str = "", **values: object) -> None:
        super().__init__(detail or self.message_id)
        self.detail = detail
        self.values = values
