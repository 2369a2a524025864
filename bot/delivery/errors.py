"""Why a send failed, in the sender's terms. Adapters raise these; the sender decides what follows.

    DeliveryError            base: something went wrong delivering to one chat
    ├── RetryLater           the platform said 429: wait `retry_after` seconds, then try again
    ├── TransientError       5xx, timeout, dropped connection: retry with capped exponential backoff
    ├── PermanentError       bot removed, chat not found, forbidden: pause the chat, keep the alert
    ├── MessageGone          the message to edit was deleted: post the alert again as a new message
    └── MessageRejected      the platform refused this payload (our bug, not the chat's): keep the alert,
                             retry with long backoff and log it as an error; the chat stays active
"""

from __future__ import annotations


class DeliveryError(Exception):
    """A send to one chat failed."""

    def __init__(self, chat: str, reason: str) -> None:
        super().__init__(f"{chat}: {reason}")
        self.chat = chat
        self.reason = reason


class RetryLater(DeliveryError):
    """The platform rate-limited us; the same request may succeed after `retry_after` seconds."""

    def __init__(self, chat: str, reason: str, retry_after: float) -> None:
        super().__init__(chat, reason)
        self.retry_after = retry_after


class TransientError(DeliveryError):
    """A failure that usually goes away: server error, timeout, connection reset."""


class PermanentError(DeliveryError):
    """The platform will never accept this chat as it is (bot kicked, chat deleted, no permission)."""


class MessageGone(DeliveryError):
    """The message to edit no longer exists (deleted by a member or a moderator)."""


class MessageRejected(DeliveryError):
    """The platform refused the request itself (bad payload); the chat is fine."""
