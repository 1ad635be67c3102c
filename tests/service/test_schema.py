"""schemathesis against the served OpenAPI document of a real server: no request
the schema allows (or nearly allows) gets a 5xx, every status is documented, and
every answer matches the documented shape.

One of schemathesis' checks is left out: that a request the schema allows is
accepted. A signed transaction's body is documented as what it is on the wire
(msgpack bytes, or a JSON object); what makes one acceptable (a canonical
encoding, a valid signature over this venue's domain) is beyond what a JSON
schema can state, so the venue refuses such bodies with a documented 400."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance
from served import Server

EXAMPLES = 25


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("schema") / "venue")
    yield server
    server.close()


def test_the_served_api_keeps_its_documented_promises(served: Server) -> None:
    schema = schemathesis.openapi.from_url(served.url + "/schema/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(excluded_checks=[positive_data_acceptance])

        run()
