"""The OpenAPI document says what the API does, checked by Schemathesis: it reads
/api/openapi.json from the real app on a real port, sends requests the document allows
(and some it forbids), and checks every answer against the document."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode, checks

from basics.credit_code import credit_code_check_char
from console.openapi import openapi_document
from gigline.app import create_app
from tests.clock import FixedClock
from tests.conftest import free_port, make_settings
from tests.test_api import AUTH, EMPLOYER, TOKEN, job_body

EXAMPLES = 12  # per operation and mode: seeded, and the file stays well under a minute


class ServedApp:
    """The app on its own event loop in a thread: Schemathesis calls it synchronously."""

    def __init__(self, app: web.Application, port: int):
        self.url = f"http://127.0.0.1:{port}"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner = web.AppRunner(app)
        self._port = port

    def start(self) -> None:
        self._thread.start()
        self._run(self._runner.setup())
        self._run(web.TCPSite(self._runner, "127.0.0.1", self._port).start())

    def stop(self) -> None:
        self._run(self._runner.cleanup())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def _run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)


@pytest.fixture
def served(database_url) -> Iterator[ServedApp]:
    # Before every start the document allows, so "a start is not in the past" (stated in
    # words, tested in test_hostile_input) never refuses a generated job.
    clock = FixedClock(datetime(1999, 12, 31, tzinfo=UTC))
    port = free_port()
    # alice is a supervisor, so that the fuzz reaches every route's handler.
    settings_ = make_settings(database_url, port, GIGLINE_API_TOKENS=f"alice:{TOKEN}",
                              GIGLINE_API_SUPERVISORS="alice", GIGLINE_DEMO="0")
    served = ServedApp(create_app(settings_, clock=clock), port)
    served.start()
    yield served
    served.stop()


OPERATIONS = [(method.upper(), path) for path, operations in openapi_document(())["paths"].items()
              for method in operations]
CHECKS = [checks.not_a_server_error, checks.status_code_conformance,
          checks.response_schema_conformance, checks.positive_data_acceptance]

# The document's own formats, so the fuzzer can write values that pass their checks.
_CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
schemathesis.openapi.format("gb32100", st.builds(
    lambda head, division, rest: (body := head + division + rest) + credit_code_check_char(body),
    st.sampled_from(_CODE_CHARS[1:]).map(lambda authority: authority + "1"),
    st.integers(110000, 659999).map(str),
    st.text(_CODE_CHARS, min_size=9, max_size=9)))
schemathesis.openapi.format("phone", st.builds(
    "{}{}{} {}".format, st.sampled_from(["", "+86 ", "0086"]),
    st.sampled_from(["139", "138", "186", "158"]), st.from_regex(r"[0-9]{4}", fullmatch=True),
    st.from_regex(r"[0-9]{4}", fullmatch=True)))


def keeping_worded_rules(case):
    """A valid case made to keep the rules the document states in words, not in JSON
    Schema: a job has one line per trade, a period does not end before it starts. (A
    start is not in the past: the market's clock stands before every start allowed.)"""
    if case.meta.generation.mode.is_positive:
        if isinstance(case.body, dict) and "lines" in case.body:
            by_trade = {line["trade"]: line for line in reversed(case.body["lines"])}
            case.body["lines"] = list(reversed(by_trade.values()))
        query = case.query or {}
        if "from" in query and "to" in query and query["to"] < query["from"]:
            query["from"], query["to"] = query["to"], query["from"]
    return case


@pytest.mark.parametrize("method, path", OPERATIONS)
def test_the_api_does_what_its_document_says(served, method, path):
    session = requests.Session()
    session.headers.update(AUTH)
    # Records for the ids the fuzzer draws to find: employer 1, verified, and its job 1.
    employer = session.post(f"{served.url}/api/employers", json=EMPLOYER, timeout=10)
    assert employer.status_code == 201, employer.text
    verified = session.post(f"{served.url}/api/employers/1/verification", timeout=10,
                            json={"state": "verified", "checked": "营业执照原件"})
    assert verified.status_code == 200, verified.text
    towns = [town["id"] for district in session.get(f"{served.url}/api/areas").json()
             for town in district["towns"]]
    job = session.post(f"{served.url}/api/jobs", json=job_body(1, towns[0]), timeout=10)
    assert job.status_code == 201, job.text

    operation = schemathesis.openapi.from_url(f"{served.url}/api/openapi.json")[path][method]
    for mode in GenerationMode:
        @given(case=operation.as_strategy(mode).map(keeping_worded_rules))
        @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            case.call_and_validate(session=session, checks=CHECKS)
        run()


def test_the_document_gives_the_shape_of_answers_and_marks_required_parameters(served):
    document = requests.get(f"{served.url}/api/openapi.json", timeout=10).json()
    matches = document["paths"]["/api/jobs/{id}/matches"]["get"]
    assert matches["responses"]["200"]["content"]["application/json"]["schema"] == {
        "type": "array", "items": {"$ref": "#/components/schemas/MatchOut"}}
    figures = {p["name"]: p for p in document["paths"]["/api/figures"]["get"]["parameters"]}
    assert figures["from"]["required"] and figures["to"]["required"]
    cases = document["paths"]["/api/cases"]["get"]["parameters"]
    assert [(p["name"], p["required"]) for p in cases] == [("status", False)]
    assert set(matches["responses"]) == {"200", "401", "404"}
    error = matches["responses"]["404"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/Error"}
    trade = document["components"]["schemas"]["LineIn"]["properties"]["trade"]
    assert {"welder", "labourer"} <= set(trade["enum"])
