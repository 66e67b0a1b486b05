"""Schemathesis over the API's own OpenAPI document, in process (ASGI), as a supervisor.

Every operation is called with generated requests, valid and invalid; the answers must never be a 5xx and must
conform to the document (status codes, content types, response schemas, rejection of invalid data). The store is
the seeded "world" of conftest.py, so paths that exist answer with real records. The quick suite runs a few
examples of each operation; `make test-long` runs many more (the `slow` mark). The operations are those of the
access table, which `test_every_route_is_in_the_table` keeps complete.

Left out: schemathesis's "schema-valid request accepted" check. The services validate more than the document
can say (a lot needs a product or a barcode naming one; a station must exist; the value must be finite), and
answer 422 naming the field; that is the documented behaviour, not a failure.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from edge import auth
from tests.reliability.test_access_matrix import API

QUICK_EXAMPLES, LONG_EXAMPLES = 8, 150
OPERATIONS = sorted(API)


def _exercise(app: FastAPI, method: str, path: str, examples: int) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operation = schema[path][method]
    headers = {"Authorization": f"Bearer {auth.create_token(app.state.core.store, 'sue')}"}

    @given(case=operation.as_strategy())
    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def call(case: Any) -> None:
        case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

    call()


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_api_conforms(world_app: FastAPI, method: str, path: str) -> None:
    _exercise(world_app, method, path, QUICK_EXAMPLES)


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_api_conforms_long(world_app: FastAPI, method: str, path: str) -> None:
    _exercise(world_app, method, path, LONG_EXAMPLES)
