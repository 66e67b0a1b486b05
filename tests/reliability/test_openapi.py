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

import re
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from edge import auth
from tests.conftest import SUPERVISOR_SECRET
from tests.reliability.conftest import World
from tests.reliability.test_access_matrix import API, PARAMETERS

QUICK_EXAMPLES, LONG_EXAMPLES = 10, 300
OPERATIONS = sorted(API)


def _cases(operation: Any, hold: str) -> st.SearchStrategy[Any]:
    """Valid requests with random names, invalid requests, and valid requests naming records that exist (a
    random lot, hold or station is almost always 404, and would never reach the code behind it), also signed."""
    names = re.findall(r"\{(\w+)\}", operation.path)
    real = {name: hold if name == "hold" else PARAMETERS[name] for name in names}
    named = operation.as_strategy(GenerationMode.POSITIVE, path_parameters=real,
                                  headers={"X-Lineside-Station": "op-10"})
    return st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE),
                     named, named.map(_signed))


def _signed(case: Any) -> Any:
    """The same, signed with the supervisor's real secret: past the signature, into the service."""
    if isinstance(case.body, dict) and "secret" in case.body:
        case.body = {**case.body, "secret": SUPERVISOR_SECRET}
    return case


def _exercise(app: FastAPI, hold: str, method: str, path: str, examples: int, derandomize: bool = True) -> int:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    # An unknown query parameter is ignored, as HTTP APIs do (the first long run flagged `?=0.0` accepted by
    # GET /nonconformities); the body models refuse unknown fields, which tests/api checks.
    schema.config.generation.update(allow_extra_parameters=False)
    operation = schema[path][method]
    headers = {"Authorization": f"Bearer {auth.create_token(app.state.core.store, 'sue')}"}

    calls = []

    @given(case=_cases(operation, hold))
    @settings(max_examples=examples, deadline=None, derandomize=derandomize, database=None,
              suppress_health_check=list(HealthCheck))
    def call(case: Any) -> None:
        calls.append(case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance]).status_code)

    call()
    print(f"{method} {path}: {len(calls)} requests, statuses {sorted(set(calls))}")  # the figures, with -s
    return len(calls)


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_api_conforms(world_app: FastAPI, world: World, method: str, path: str) -> None:
    assert _exercise(world_app, world.hold, method, path, QUICK_EXAMPLES) > 0


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_api_conforms_long(world_app: FastAPI, world: World, method: str, path: str) -> None:
    # random, not derandomized: each long run explores new requests
    assert _exercise(world_app, world.hold, method, path, LONG_EXAMPLES, derandomize=False) > 0
