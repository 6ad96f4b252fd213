"""The OpenAPI 3.1 document at /api/openapi.json describes exactly the API the app serves."""

from __future__ import annotations

import re

import pytest
import schemathesis

from webapp.web.openapi import ENDPOINTS, api_rules, openapi_path

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
def document(client) -> dict:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def served_routes(app) -> set[tuple[str, str]]:
    """(OpenAPI path, method) of every /api/... route in the app's url_map."""
    return {
        (openapi_path(rule), method.lower())
        for rule in api_rules(app)
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def documented_routes(document: dict) -> set[tuple[str, str]]:
    return {
        (path, method)
        for path, item in document["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def test_the_document_is_served_without_authentication_as_openapi_3_1(document):
    assert document["openapi"] == "3.1.0"
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_every_api_route_and_method_is_documented_and_nothing_else(app, document):
    served = served_routes(app)
    documented = documented_routes(document)
    assert served - documented == set(), "routes missing from the document"
    assert documented - served == set(), "documented routes the app does not serve"


def test_every_declared_endpoint_is_a_route(app):
    assert set(ENDPOINTS) - {rule.endpoint for rule in api_rules(app)} == set()


def test_path_parameters_match_the_rule(document):
    for path, item in document["paths"].items():
        in_path = set(re.findall(r"{(\w+)}", path))
        for method, operation in item.items():
            declared = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
            assert declared == in_path, f"{method.upper()} {path}"


def test_roles_and_refusals_are_documented(document):
    commands = document["paths"]["/api/commands"]["post"]
    assert commands["x-role"] == "admin"
    assert commands["security"] == [{"bearer": []}]
    assert {"201", "400", "401", "403", "404", "409", "422", "503"} <= set(commands["responses"])
    error = {"$ref": "#/components/schemas/Error"}
    assert commands["responses"]["422"]["content"]["application/json"]["schema"] == error
    health = document["paths"]["/api/health"]["get"]
    assert health["security"] == []
    assert "401" not in health["responses"]
    # a route that needs eventscope's own domain answers 404 over another tool's store
    assert "404" in document["paths"]["/api/projections"]["get"]["responses"]
    assert "404" not in document["paths"]["/api/streams"]["get"]["responses"]


def test_query_parameters_carry_their_bounds(document):
    streams = {p["name"]: p for p in document["paths"]["/api/streams"]["get"]["parameters"]}
    assert streams["limit"]["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 1000,
        "default": 100,
    }
    assert streams["prefix"]["schema"]["maxLength"] == 200


def test_reply_shapes_are_those_of_the_design(document):
    schemas = document["components"]["schemas"]
    assert set(schemas["Stream"]["required"]) == {"stream_id", "version", "type", "updated_at"}
    assert set(schemas["StreamPage"]["required"]) == {"streams", "next"}
    assert set(schemas["CommandReply"]["required"]) == {"stream_id", "version", "events"}
    assert set(schemas["State"]["required"]) == {"stream_id", "version", "state"}
    assert {"position", "stream_id", "stream_version", "type", "data", "metadata"} <= set(
        schemas["Event"]["required"]
    )


def test_schemathesis_loads_the_document(app):
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    loaded = {result.ok().label for result in schema.get_all_operations()}
    expected = {f"{method.upper()} {path}" for path, method in served_routes(app)}
    # schemathesis leaves out the document's own route
    assert loaded == expected - {"GET /api/openapi.json"}
