"""The bundled sample news site that `veille demo` and the tests poll: invented outlets served on 127.0.0.1.

content/   YAML data: outlets, stories, articles (sample content written for the Veille demo; not real news)
content.py load and validate that data into frozen dataclasses
render.py  turn articles into RSS 2.0, Atom, JSON Feed 1.1, podcast RSS and cluttered HTML pages
server.py  DemoSite: an aiohttp server that releases items over time and answers conditional GETs

Exceptions:

    DemoSiteError            anything this package raises on purpose
    ├── ContentError         the content files are missing, unreadable or invalid (lists every problem)
    └── ServeError           the server cannot start (port taken, bad host) or is used before it starts
"""

from __future__ import annotations


class DemoSiteError(Exception):
    """Base class for every error raised on purpose by the demo site."""


class ContentError(DemoSiteError):
    """The demo content is invalid; `problems` lists each one as `file[index].field: reason`."""

    def __init__(self, directory: str, problems: list[str]) -> None:
        self.directory = directory
        self.problems = list(problems)
        listed = "\n  ".join(self.problems)
        super().__init__(f"invalid demo content in {directory} ({len(self.problems)} problems):\n  {listed}")


class ServeError(DemoSiteError):
    """The demo server cannot start or is used before it has started."""

    def __init__(self, address: str, reason: str) -> None:
        self.address = address
        self.reason = reason
        super().__init__(f"demo site at {address}: {reason}")
