"""The OpenAPI document: served at /openapi.json, valid, and true to the route table."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import schemathesis
import yaml
from aiohttp import web

from eventd.app import create_app
from eventd.http.openapi import document
from tests.conftest import MakeClient, make_config

ROOT = Path(__file__).parents[2]
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def routes(app: web.Application) -> set[tuple[str, str]]:
    """Return (method, path) of every route the app registers."""
    return {(route.method, route.resource.canonical) for route in app.router.routes()}


def operations() -> set[tuple[str, str]]:
    """Return (method, path) of every operation the document describes."""
    return {
        (method.upper(), path)
        for path, item in document()["paths"].items()
        for method in item
        if method in METHODS
    }


def test_every_route_is_documented_and_every_operation_is_a_route() -> None:
    registered = routes(create_app(make_config()))
    # aiohttp answers HEAD for every GET route by itself; the document says so once.
    heads = {path for method, path in registered if method == "HEAD"}
    assert heads == {path for method, path in registered if method == "GET"}
    assert {route for route in registered if route[0] != "HEAD"} == operations()


async def test_openapi_json_serves_the_document(make_client: MakeClient) -> None:
    client = await make_client()
    response = await client.get("/openapi.json")
    assert response.status == 200
    assert response.content_type == "application/json"
    served = await response.json()
    # Compared with PyYAML's pure loader: the served JSON holds no YAML-only types (dates).
    source = ROOT / "src" / "eventd" / "http" / "openapi.yaml"
    assert served == yaml.safe_load(source.read_text(encoding="utf-8"))
    assert served["openapi"] == "3.1.0"


def test_docs_openapi_yaml_is_the_packaged_document() -> None:
    docs = ROOT / "docs" / "openapi.yaml"
    assert docs.resolve() == (ROOT / "src" / "eventd" / "http" / "openapi.yaml").resolve()
    assert yaml.safe_load(docs.read_text(encoding="utf-8")) == document()


def test_document_is_valid_openapi_3_1() -> None:
    schemathesis.openapi.from_dict(
        copy.deepcopy(document())
    ).validate()  # raises on the first violation
    for name, schema in document()["components"]["schemas"].items():
        assert jsonschema_rs.meta.is_valid(schema), name


def _responses() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document()["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                for status, response in operation["responses"].items():
                    yield f"{method.upper()} {path}", status, response


def test_every_error_answer_has_the_one_error_shape() -> None:
    components = document()["components"]["responses"]
    for operation, status, response in _responses():
        # /health answers its own shape when a part fails: monitors read `checks`.
        if int(status) < 400 or (operation, status) == ("GET /health", "503"):
            continue
        assert set(response) == {"$ref"}, f"{operation} {status}: use a shared response"
        shared = components[response["$ref"].rsplit("/", 1)[1]]
        schema = shared["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Error"}, f"{operation} {status}"


def test_every_operation_has_a_unique_id_and_a_summary() -> None:
    ids = []
    for path, item in document()["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                assert operation.get("summary"), f"{method} {path}"
                ids.append(operation["operationId"])
    assert len(ids) == len(set(ids))


def test_limits_in_the_document_are_the_configured_defaults() -> None:
    limits = make_config().limits
    schemas = document()["components"]["schemas"]
    fields = schemas["EventIn"]["properties"]
    assert fields["type"]["maxLength"] == limits.max_type_length
    assert fields["event_type"]["maxLength"] == limits.max_type_length
    assert fields["key"]["maxLength"] == limits.max_key_length
    assert fields["title"]["maxLength"] == limits.max_text_length
    assert fields["description"]["maxLength"] == limits.max_text_length
    parameters = document()["components"]["parameters"]
    assert parameters["Limit"]["schema"]["maximum"] == limits.max_page_size
    assert parameters["Limit"]["schema"]["default"] == limits.default_page_size
    assert parameters["PageSize"]["schema"]["maximum"] == limits.max_page_size
    debug = document()["paths"]["/debug/events"]["get"]["parameters"][0]["schema"]
    assert debug["maximum"] == limits.max_page_size
    body = document()["components"]["requestBodies"]["NewEvents"]["content"]
    batch = body["application/json"]["schema"]["oneOf"][1]
    assert batch["maxItems"] == body["application/x-ndjson"]["schema"]["maxItems"]
    assert batch["maxItems"] == limits.max_batch


async def test_an_empty_type_is_refused_by_every_operation_that_filters_by_type(
    make_client: MakeClient,
) -> None:
    # The document gives `type` one rule (at least one character); the routes must agree.
    client = await make_client()
    history = {"window": "5m", "step": "1m", "start": "2025-06-01T11:58:00Z"}
    history["end"] = "2025-06-01T12:00:00Z"
    for path, params in (("/events", {}), ("/stats", {}), ("/stats/history", history)):
        for name in ("type", "event_type"):
            response = await client.get(path, params=params | {name: ""})
            assert response.status == 400, (path, name, await response.text())
            assert (await response.json())["error"]["field"] in ("type", "event_type")
