"""PostgreSQL for tests: one throwaway schema per test in the server named by VEILLE_TEST_PG_URL.

.ci/run installs, starts and names a server; without the variable every PostgreSQL test is skipped with
the reason, so `make test` on a machine without PostgreSQL still passes.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import pytest

PG_ENV = "VEILLE_TEST_PG_URL"
SKIP_REASON = f"PostgreSQL tests need a server: set {PG_ENV} (.ci/run installs and starts one)"


def pg_url() -> str:
    """Return the test server's URL, or skip the calling test with the reason."""
    url = os.environ.get(PG_ENV, "")
    if not url:
        pytest.skip(SKIP_REASON)
    return url


def with_search_path(url: str, schema: str) -> str:
    """Return the URL with every session's search_path set to `schema`."""
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options={quote(f'-csearch_path={schema}')}"


@contextmanager
def pg_schema_url() -> Iterator[str]:
    """Create an empty schema in the test server, yield a URL whose sessions use it, drop it afterwards."""
    with throwaway_schema(pg_url(), "t") as url:
        yield url


@contextmanager
def throwaway_schema(base: str, prefix: str) -> Iterator[str]:
    """Create an empty schema in the server at `base`, yield a URL whose sessions use it, drop it afterwards."""
    import psycopg

    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield with_search_path(base, schema)
    finally:
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
