"""Fixtures shared by the security tests: the real local HTTP server of the ingest tests."""

from tests.ingest.conftest import web_server  # noqa: F401 - re-exported as a fixture
