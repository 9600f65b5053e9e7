"""Every response carries a request id; a well-formed one from the proxy is kept, anything else replaced."""

import re

import pytest

pytestmark = pytest.mark.django_db


def test_a_request_id_is_made_when_none_is_offered(client):
    assert re.fullmatch(r"[0-9a-f]{32}", client.get("/api/schema/")["X-Request-ID"])


def test_a_well_formed_request_id_from_the_proxy_is_kept(client):
    assert client.get("/api/schema/", HTTP_X_REQUEST_ID="lb-7f3a9c2e11")["X-Request-ID"] == "lb-7f3a9c2e11"


@pytest.mark.parametrize("offered", ["short", "has spaces in it", "x" * 65, "<script>alert(1)</script>"])
def test_a_malformed_request_id_is_replaced(client, offered):
    assert client.get("/api/schema/", HTTP_X_REQUEST_ID=offered)["X-Request-ID"] != offered
