"""The OpenAPI contract: valid OpenAPI 3, complete, and documenting the problem-details errors."""

import pytest
from openapi_spec_validator import validate

pytestmark = pytest.mark.django_db

RESOURCES = ["patients", "presentations", "visits", "treatments", "complications"]


def test_schema_is_valid_openapi_3(schema):
    validate(schema)
    assert schema["openapi"].startswith("3.")


def test_every_resource_and_action_is_documented(schema):
    paths = schema["paths"]
    for resource in RESOURCES:
        assert set(paths[f"/api/v1/{resource}/"]) >= {"get", "post"}
        assert set(paths[f"/api/v1/{resource}/{{id}}/"]) >= {"get", "put", "patch"}
        assert "delete" not in paths[f"/api/v1/{resource}/{{id}}/"]
    assert "post" in paths["/api/v1/patients/{id}/archive/"]
    assert "get" in paths["/api/v1/presentations/{id}/timeline/"]
    assert "get" in paths["/api/v1/presentations/{id}/next-step/"]


def test_every_operation_documents_problem_details_for_its_errors(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            for status in ("401", "403", "429", "500", "503"):
                assert "application/problem+json" in responses[status]["content"], (method, path, status)
            if "{id}" in path:
                assert "404" in responses, (method, path)
            if method in ("post", "put", "patch"):
                assert {"400", "409", "413", "415"} <= set(responses), (method, path)
            if method in ("put", "patch"):
                assert "412" in responses, (method, path)


def test_filters_and_pagination_are_documented(schema):
    parameters = {p["name"] for p in schema["paths"]["/api/v1/presentations/"]["get"]["parameters"]}
    assert {"mrn", "status", "rung", "interspace", "clinician", "cursor", "page_size", "ordering"} <= parameters
    treatment_parameters = {p["name"] for p in schema["paths"]["/api/v1/treatments/"]["get"]["parameters"]}
    assert {"kind", "response", "started_on_after", "started_on_before"} <= treatment_parameters


def test_enums_are_the_domain_codes(schema):
    components = schema["components"]["schemas"]
    assert components["TreatmentKindEnum"]["enum"] == [
        "footwear_modification",
        "orthosis",
        "corticosteroid_injection",
        "alcohol_injection",
        "radiofrequency_ablation",
        "cryoneurolysis",
        "neurectomy",
    ]
    assert components["FootEnum"]["enum"] == ["left", "right"]
    assert components["ResponseEnum"]["enum"] == ["pending", "complete", "partial", "none"]
    assert components["StatusEnum"]["enum"] == ["active", "resolved", "referred", "closed"]


def test_bearer_authentication_is_declared(schema):
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schema["components"]["securitySchemes"]["bearerAuth"]["description"],
    }


def test_swagger_ui_is_served_without_external_assets(anonymous):
    response = anonymous.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn." not in html
