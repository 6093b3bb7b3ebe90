"""schemathesis against /openapi.json and /graphql, in-process (ASGI), every default check.

A bounded number of examples per operation keeps this fast (scripts/fuzz-long runs more).
Any failure is a bug in the API or a lie in the OpenAPI document. (schemathesis's own
pytest plugin does not run under pytest 9 yet, so each operation's strategy is driven by
hypothesis here; the checks are schemathesis's ``call_and_validate``.)
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.fuzz.conftest import FUZZ_EXAMPLES

pytestmark = pytest.mark.filterwarnings("ignore")


#: Multipart file uploads (the Upload scalar) cannot travel in a JSON GraphQL request;
#: tests/activity covers them.
SKIPPED = {"Mutation.uploadAttachment"}


def fuzz_every_operation(
    schema: Any, key: str, modes: list[GenerationMode], **validate: Any
) -> None:
    """Run each operation's examples; collect every failure and report them all."""
    failures: list[str] = []
    timings: list[tuple[float, str]] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.label in SKIPPED:
            continue
        operations += 1
        for mode in modes:
            if mode is GenerationMode.NEGATIVE and not (
                len(operation.body) or len(operation.query)
            ):
                continue  # only path parameters: route matching already rejects garbage

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=FUZZ_EXAMPLES,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
                derandomize=True,
                print_blob=False,
            )
            def run(case: Any) -> None:
                case.call_and_validate(headers={"X-API-Key": key}, **validate)

            started = time.monotonic()
            try:
                run()
            except Unsatisfiable:
                pass  # nothing to generate in this mode (e.g. no parameters to break)
            except (Exception, BaseExceptionGroup) as exc:  # every operation's failures
                failures.append(f"--- {operation.label} [{mode.value}]\n{exc}")
            timings.append((time.monotonic() - started, f"{operation.label} [{mode.value}]"))
    print("slowest:", sorted(timings, reverse=True)[:8])
    assert operations > 0
    assert not failures, f"{len(failures)} operation(s) failed:\n" + "\n".join(failures)


#: Positive data may still break rules JSON Schema cannot state (a real phone numbering
#: plan, a company id that must exist, a custom field that must be defined): 422 is an
#: honest answer to those. Every other default check runs as shipped.
CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429"]
            }
        }
    }
)


def test_openapi(fuzz_app: Any, key: str) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app, config=CONFIG)
    # /graphql is fuzzed through its own GraphQL schema below, not its generic OpenAPI entry.
    schema = schema.exclude(path="/graphql")
    fuzz_every_operation(schema, key, [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])


def no_internal_graphql_errors(ctx: Any, response: Any, case: Any) -> None:
    """Our GraphQL errors carry ``extensions.status``: a 5xx (``internal``) is a bug.

    Replaces schemathesis's generic GraphQL server-error check, which counts every error
    with a ``path`` as a server failure; ours are domain answers (422, 404, 409...) unless
    their status says otherwise.
    """
    assert response.status_code == 200, f"GraphQL answered HTTP {response.status_code}"
    payload = response.json()
    for error in payload.get("errors") or []:
        extensions = error.get("extensions") or {}
        assert "code" in extensions, f"an error without extensions.code: {error}"
        assert int(extensions.get("status", 500)) < 500, f"a server error: {error}"


#: GraphQL argument types cannot state ranges (first: 1-100) or existence (companyId), so
#: a refused "schema-valid" query is an honest answer: positive_data_acceptance is off.
GRAPHQL_CONFIG = schemathesis.Config.from_dict(
    {"checks": {"positive_data_acceptance": {"enabled": False}}}
)


def test_graphql(fuzz_app: Any, key: str) -> None:
    from schemathesis.checks import not_a_server_error

    schema = schemathesis.graphql.from_asgi("/graphql", fuzz_app, config=GRAPHQL_CONFIG)
    fuzz_every_operation(
        schema,
        key,
        [GenerationMode.POSITIVE],
        excluded_checks=[not_a_server_error],
        additional_checks=[no_internal_graphql_errors],
    )
