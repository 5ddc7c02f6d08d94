"""Schemathesis over the OpenAPI schema: no input the schema allows makes the API answer 5xx."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings


def test_no_input_the_schema_allows_gives_a_server_error(pg_service):
    pg_service.create_account()
    pg_service.player.start("+15550142367", "+15550100200")
    schema = schemathesis.openapi.from_url(pg_service.url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 9
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def no_server_error(case):
            for headers in (pg_service.admin(), {}):
                response = case.call(headers=headers)
                where = f"{case.method} {case.formatted_path}"
                assert response.status_code < 500, f"{where}: {response.status_code} {response.text[:300]}"
                if response.status_code >= 400:
                    assert set(response.json()["error"]) == {"code", "message"}, where

        no_server_error()
