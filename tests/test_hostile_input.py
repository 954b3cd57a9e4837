"""Input no database can hold gets a 4xx with a reason, the same on SQLite and
PostgreSQL: ids past the integer range, webhook fields too long for their columns or
holding NUL bytes, dates at the ends of the calendar, JSON nested without end."""

from __future__ import annotations

import pytest

from gigline.app import create_app
from tests.conftest import make_settings
from tests.test_api import AUTH, EMPLOYER, TOKEN, job_body, town_id, verified_employer
from tests.twilio_signing import signed_headers, voice_params

PUBLIC = "http://127.0.0.1:8080"
WEBHOOK_TOKEN = "test-token-0123456789"
HUGE = str(2**63 + 1)  # past SQLite's integers too
BIG = str(2**31)  # past PostgreSQL's integer


@pytest.fixture
async def client(aiohttp_client, database_url, clock):
    # alice verifies employers (test_api.verified_employer): a supervisor's work.
    settings = make_settings(database_url, 8080, GIGLINE_API_TOKENS=f"alice:{TOKEN}",
                             GIGLINE_API_SUPERVISORS="alice", GIGLINE_DEMO="0")
    return await aiohttp_client(create_app(settings, clock=clock))


async def signed_post(client, path: str, params: dict):
    headers = signed_headers(WEBHOOK_TOKEN, PUBLIC + path, params)
    return await client.post(path, data=params, headers=headers)


@pytest.mark.parametrize("number", [BIG, HUGE])
@pytest.mark.parametrize("path", ["/api/employers/{}", "/api/jobs/{}", "/api/jobs/{}/matches",
                                  "/api/cases/{}"])
async def test_an_id_past_the_integer_range_is_not_found(client, path, number):
    response = await client.get(path.format(number), headers=AUTH)
    assert response.status == 404, await response.text()
    assert (await response.json())["error"]


@pytest.mark.parametrize("number", [2**31, 2**63 + 1])
@pytest.mark.parametrize("field", ["employer_id", "town_id"])
async def test_an_id_past_the_integer_range_in_a_body_is_refused(client, field, number):
    body = job_body(1, 1, {field: number})
    response = await client.post("/api/jobs", json=body, headers=AUTH)
    assert response.status == 422, await response.text()
    assert (await response.json())["field"] == field


@pytest.mark.parametrize("start", ["9999-12-31T00:00:00", "0001-01-01T00:00:00",
                                   "9999-12-31T23:59:59+14:00"])
async def test_a_start_at_the_ends_of_the_calendar_is_refused(client, clock, start):
    employer = await verified_employer(client)
    body = job_body(employer, await town_id(client), {"start_at": start})
    response = await client.post("/api/jobs", json=body, headers=AUTH)
    assert response.status == 422, await response.text()
    assert (await response.json())["field"] == "start_at"


async def test_a_json_body_nested_without_end_is_refused(client):
    response = await client.post("/api/employers", data="[" * 100_000 + "]" * 100_000,
                                 headers=AUTH | {"Content-Type": "application/json"})
    assert response.status == 400, await response.text()


async def test_a_job_cannot_be_moved_into_the_past(client, clock):
    employer = await verified_employer(client)
    created = await client.post("/api/jobs", headers=AUTH, json=job_body(
        employer, await town_id(client), {"start_at": clock().isoformat()}))
    assert created.status == 201, await created.text()
    job = await created.json()
    response = await client.patch(f"/api/jobs/{job['id']}", headers=AUTH,
                                  json={"start_at": "2020-01-01T07:00:00"})
    assert response.status == 422, await response.text()
    assert (await response.json())["field"] == "start_at"


async def test_an_all_zero_credit_code_is_refused(client):
    response = await client.post("/api/employers", headers=AUTH,
                                 json=EMPLOYER | {"credit_code": "0" * 18})
    assert response.status == 422, await response.text()
    assert (await response.json())["field"] == "credit_code"


@pytest.mark.parametrize("fields", [
    {"CallSid": "CA" + "1" * 70},
    {"CallSid": "CA1\x00"},
    {"To": "+86" + "1" * 30},
    {"From": "+8613800000001\x00"},
])
async def test_voice_webhook_fields_no_column_can_hold_are_refused(client, fields):
    response = await signed_post(client, "/twilio/voice", voice_params("CA1") | fields)
    assert response.status == 400, await response.text()


@pytest.mark.parametrize("fields", [
    {"MessageSid": "SM" + "1" * 70},
    {"To": "+86" + "1" * 30},
    {"Body": "你好\x00"},
])
async def test_sms_webhook_fields_no_column_can_hold_are_refused(client, fields):
    params = {"MessageSid": "SM" + "a" * 32, "AccountSid": "AC" + "0" * 32,
              "From": "+8613800000001", "To": "+863592123456", "Body": "你好",
              "NumMedia": "0"} | fields
    response = await signed_post(client, "/twilio/sms", params)
    assert response.status == 400, await response.text()


@pytest.mark.parametrize("query", [f"offer={HUGE}", f"offer={BIG}"])
async def test_an_alert_call_for_an_id_past_the_range_is_refused(client, query):
    path = f"/twilio/voice/alert?{query}"
    params = voice_params("CA2") | {"Direction": "outbound-api", "To": "+8613800000001"}
    response = await client.post(path, data=params,
                                 headers=signed_headers(WEBHOOK_TOKEN, PUBLIC + path, params))
    assert response.status == 400, await response.text()
