"""A chat's alert policy: its timezone, quiet hours, hourly cap and digest schedule, and what they decide.

Values come from the chat's own settings (/settings, /digest) or else from the config's `alerts:` section.
The sender asks `hold_reason` before posting a new alert: inside quiet hours or over the cap, the alert is
held for the chat's next digest instead (never dropped). Text forms, in English or French:

    quiet hours   "22:00-07:00" (may span midnight), "off"
    digest        "daily 08:00", "weekly mon 08:00" (also "quotidien 8h", "hebdo lundi 8h30"), "off"
    timezone      an IANA name: "Europe/Paris", "UTC"

Errors:

    PolicyError    a setting's text cannot be read; the message says what was expected
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.store.base import ChatSettings

log = logging.getLogger(__name__)

_TIME = re.compile(r"^(\d{1,2})(?:[:h](\d{2})?)?$")
_DAYS = {
    "mon": 0, "monday": 0, "lun": 0, "lundi": 0,
    "tue": 1, "tuesday": 1, "mar": 1, "mardi": 1,
    "wed": 2, "wednesday": 2, "mer": 2, "mercredi": 2,
    "thu": 3, "thursday": 3, "jeu": 3, "jeudi": 3,
    "fri": 4, "friday": 4, "ven": 4, "vendredi": 4,
    "sat": 5, "saturday": 5, "sam": 5, "samedi": 5,
    "sun": 6, "sunday": 6, "dim": 6, "dimanche": 6,
}  # fmt: skip
_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
OFF_WORDS = frozenset({"off", "none", "no", "non", "aucun", "aucune", "désactivé", "desactive", "0"})


class PolicyError(ValueError):
    """A policy setting could not be read."""


def parse_clock(text: str) -> time:
    """Read "08:00", "8:30", "8h", "8h30" or "8"; raise PolicyError otherwise."""
    match = _TIME.match(text.strip().lower())
    if not match or int(match.group(1)) > 23 or int(match.group(2) or 0) > 59:
        raise PolicyError(f"not a time of day like 08:00: {text[:20]!r}")
    return time(int(match.group(1)), int(match.group(2) or 0))


def parse_timezone(text: str) -> ZoneInfo:
    """Read an IANA timezone name; raise PolicyError when it is unknown."""
    name = text.strip()
    if not name or len(name) > 64 or not re.fullmatch(r"[A-Za-z0-9_+\-/]+", name) or ".." in name:
        raise PolicyError(f"not a timezone name like Europe/Paris: {text[:40]!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise PolicyError(f"unknown timezone {name!r} (for example Europe/Paris, America/New_York, UTC)") from None


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily window, in the chat's local time, when alerts wait for the digest; may span midnight."""

    start: time
    end: time

    def contains(self, local: time) -> bool:
        """Tell whether a local time of day falls inside the window."""
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def end_after(self, moment: datetime, tz: tzinfo) -> datetime:
        """Return the first end of the window after `moment` (UTC)."""
        local = moment.astimezone(tz)
        candidate = datetime.combine(local.date(), self.end, tzinfo=tz)
        if candidate <= local:
            candidate = datetime.combine(local.date() + timedelta(days=1), self.end, tzinfo=tz)
        return candidate.astimezone(UTC)

    def text(self) -> str:
        """Return the window as typed: 22:00-07:00."""
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def parse_quiet_hours(text: str) -> QuietHours | None:
    """Read "22:00-07:00" (None for "off"); raise PolicyError otherwise."""
    value = text.strip().lower()
    if value in OFF_WORDS:
        return None
    start, sep, end = value.replace("–", "-").partition("-")
    if not sep:
        raise PolicyError(f"expected quiet hours like 22:00-07:00, or off: {text[:40]!r}")
    quiet = QuietHours(parse_clock(start), parse_clock(end))
    if quiet.start == quiet.end:
        raise PolicyError("quiet hours must start and end at different times")
    return quiet


@dataclass(frozen=True, slots=True)
class DigestSchedule:
    """When a chat's digest goes out: every day, or one day a week, at a local time."""

    at: time
    weekday: int | None = None  # 0 = Monday; None = every day

    def next_after(self, moment: datetime, tz: tzinfo) -> datetime:
        """Return the first scheduled time strictly after `moment`, in UTC."""
        local = moment.astimezone(tz)
        for days in range(8):
            day = local.date() + timedelta(days=days)
            if self.weekday is not None and day.weekday() != self.weekday:
                continue
            candidate = datetime.combine(day, self.at, tzinfo=tz)
            if candidate > local:
                return candidate.astimezone(UTC)
        raise AssertionError("a weekly schedule always has a next time within 8 days")

    def text(self) -> str:
        """Return the schedule as typed: "daily 08:00" or "weekly mon 08:00"."""
        if self.weekday is None:
            return f"daily {self.at:%H:%M}"
        return f"weekly {_DAY_NAMES[self.weekday]} {self.at:%H:%M}"


def parse_digest(text: str) -> DigestSchedule | None:
    """Read "daily 08:00" or "weekly mon 08:00" (None for "off"); raise PolicyError otherwise."""
    words = text.strip().lower().split()
    if not words or (len(words) == 1 and words[0] in OFF_WORDS):
        return None
    kind, rest = words[0], words[1:]
    if kind in ("daily", "quotidien", "quotidienne", "day", "jour") and len(rest) == 1:
        return DigestSchedule(parse_clock(rest[0]))
    if kind in ("weekly", "hebdo", "hebdomadaire", "week", "semaine") and len(rest) == 2:
        day = _DAYS.get(rest[0].rstrip("."))
        if day is None:
            raise PolicyError(f"not a day of the week: {rest[0][:20]!r} (mon, tue ... or lundi, mardi ...)")
        return DigestSchedule(parse_clock(rest[1]), day)
    raise PolicyError("expected daily 08:00, weekly mon 08:00, or off")


@dataclass(frozen=True, slots=True)
class AlertDefaults:
    """The config's defaults for every chat (see bot.config AlertSettings)."""

    timezone: str = "UTC"
    quiet_hours: str = "off"
    max_alerts_per_hour: int = 0
    digest: str = "off"
    digest_size: int = 10

    @classmethod
    def from_config(cls, alerts: object) -> AlertDefaults:
        """Read the config's `alerts:` section (bot.config.AlertSettings)."""
        return cls(**{name: getattr(alerts, name) for name in cls.__slots__})  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class ChatPolicy:
    """A chat's effective policy: its own settings over the config's defaults."""

    tz: tzinfo
    quiet: QuietHours | None
    cap: int  # alerts per sliding hour; 0 = no cap
    digest: DigestSchedule | None

    @classmethod
    def resolve(cls, defaults: AlertDefaults, own: ChatSettings | None) -> ChatPolicy:
        """Combine; a stored value that no longer reads (a removed timezone) falls back to the default."""
        chat = str(own.chat) if own else ""

        def pick(value: str | None, default: str, parse, fallback):  # type: ignore[no-untyped-def]
            for candidate in (value, default):
                if candidate is None:
                    continue
                try:
                    return parse(candidate)
                except PolicyError as exc:
                    log.warning("ignoring an unreadable alert setting: %s", exc, extra={"chat": chat})
            return fallback

        tz = pick(own.timezone if own else None, defaults.timezone, parse_timezone, UTC)
        quiet = pick(own.quiet_hours if own else None, defaults.quiet_hours, parse_quiet_hours, None)
        digest = pick(own.digest if own else None, defaults.digest, parse_digest, None)
        cap = own.max_per_hour if own and own.max_per_hour is not None else defaults.max_alerts_per_hour
        return cls(tz=tz, quiet=quiet, cap=max(0, int(cap)), digest=digest)

    def hold_reason(self, now: datetime, sent_last_hour: list[datetime]) -> tuple[str, datetime] | None:
        """Return ("quiet" | "cap", until when) when a new alert must wait for the digest, else None."""
        if self.quiet is not None and self.quiet.contains(now.astimezone(self.tz).time()):
            return "quiet", self.quiet.end_after(now, self.tz)
        if self.cap and len(sent_last_hour) >= self.cap:
            # The window frees up when the oldest counted alert is an hour old.
            oldest = sorted(sent_last_hour)[len(sent_last_hour) - self.cap]
            return "cap", max(now, oldest + timedelta(hours=1))
        return None
