"""Schemathesis against a real `eventd serve`: no input gets a 5xx, every answer is documented.

Every operation of the OpenAPI document is fuzzed (schema-valid and schema-violating
requests, plus schemathesis's coverage cases: boundaries, missing parameters, methods a
path does not serve) against one daemon on the memory engine.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from eventd.http.openapi import document
from tests.daemon import Daemon

pytestmark = pytest.mark.slow

EXAMPLES_PER_OPERATION = 60
# Not `positive_data_acceptance`: a schema-valid request may still be refused for reasons JSON
# Schema does not express (a field given with its alias, a date such as 2025-02-30, a window
# that is not configured, `window` together with `start`/`end`), and the 4xx is right.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    unsupported_method,
]

schema = schemathesis.openapi.from_dict(copy.deepcopy(document()))
# The operations that delete every event run last, so that the statistics and listings are
# fuzzed over everything the writes stored.
CLEARING = ["clearEvents", "clearEventsSlash"]
SETTINGS = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    # The same cases on every run of the same suite, so a failure in CI reproduces. Hypothesis
    # also draws constants from the project's loaded modules: running this file alone draws
    # other cases than the whole suite does.
    derandomize=True,
    database=None,
    deadline=None,  # a request's time depends on the machine's load, not on the code
    # Generating bodies of the 15-field event schema is slower than Hypothesis's default
    # budget; that is the schema's size, not a fault of the code under test.
    suppress_health_check=[HealthCheck.too_slow],
)
sent: Counter[str] = Counter()  # requests per operation
server_errors: Counter[str] = Counter()


@schemathesis.serializer("application/x-ndjson")
def ndjson(context: schemathesis.SerializationContext, value: Any) -> bytes:
    """Write a generated list of events as NDJSON, one per line."""
    # Anything but a list has no NDJSON form. It goes as one line holding it in an array, which
    # no record can be: alone on a line, the object `{}` would read as a one-event stream.
    records = value if isinstance(value, list) else [[value]]
    return b"".join(json.dumps(record).encode() + b"\n" for record in records)


@pytest.fixture(scope="module")
def daemon(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Daemon]:
    """One daemon for every operation; it must serve the document the cases come from."""
    daemon = Daemon(tmp_path_factory.mktemp("schemathesis"))
    asyncio.run(daemon.start())
    try:
        served = requests.get(f"{daemon.base}/openapi.json", timeout=10)
        assert served.json() == document()
        yield daemon
    finally:
        if daemon.process is not None:
            asyncio.run(daemon.stop())
        _report(request)


def _report(request: pytest.FixtureRequest) -> None:
    """Print how many requests each operation was sent, and how many got a 5xx."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None or not sent:
        return
    total, errors = sum(sent.values()), sum(server_errors.values())
    with capture.global_and_fixture_disabled():
        reporter.write_line(
            f"\nschemathesis: {total} requests over {len(sent)} operations, {errors} answered 5xx"
        )
        for label, count in sorted(sent.items()):
            reporter.write_line(f"  {label}: {count}, {server_errors[label]} answered 5xx")


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@schema.exclude(operation_id=CLEARING).parametrize()
@SETTINGS
def test_api_conforms_to_its_document(
    case: schemathesis.Case, daemon: Daemon, session: requests.Session
) -> None:
    _call_and_validate(case, daemon, session)


@schema.include(operation_id=CLEARING).parametrize()
@SETTINGS
def test_clearing_conforms_to_its_document(
    case: schemathesis.Case, daemon: Daemon, session: requests.Session
) -> None:
    _call_and_validate(case, daemon, session)


def _call_and_validate(case: schemathesis.Case, daemon: Daemon, session: requests.Session) -> None:
    """Send the case to the daemon, count it, and run every check on the answer."""
    sent[case.operation.label] += 1
    response = case.call(base_url=daemon.base, session=session, timeout=10)
    if response.status_code >= 500:
        server_errors[case.operation.label] += 1
    case.validate_response(response, checks=CHECKS)
