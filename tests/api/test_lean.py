"""The lean request path of a check by numbers (fujo.api.lean): a well-formed check is answered without
FastAPI's dependency solving; everything else is FastAPI's own answer, and no request is counted
twice against the rate limit."""

from __future__ import annotations

import pytest
from fastapi import routing

from fujo.api import ratelimit
from tests.factories import PAYER

URL = "/api/v1/checks/numbers"


def _body(r) -> dict:
    return {
        "insurer_number": PAYER,
        "identification_number": r["recipient_number"],
        "birthdate": r["birthdate"],
        "confirmation_date": "2024-07-10",  # in the month of the world's tickets
    }


@pytest.fixture
def solved(monkeypatch) -> list[str]:
    """The paths FastAPI solved dependencies for (its per-request work the lean path skips)."""
    seen: list[str] = []
    solve = routing.solve_dependencies

    async def counting(*args, **kwargs):
        seen.append(kwargs["request"].url.path)
        return await solve(*args, **kwargs)

    monkeypatch.setattr(routing, "solve_dependencies", counting)
    return seen


def test_a_well_formed_check_skips_dependency_solving_and_answers_as_the_full_path(client, world, solved):
    r = world.recipient()
    world.ticket(r)
    lean = client.post(URL, json=_body(r), headers=world.auth("clinic"))
    assert lean.status_code == 200 and solved == []
    assert lean.json()["ResultList"][0]["QualificationValidity"] == "1"
    # a body FastAPI reads but the model refuses goes the full way: FastAPI's own 422, naming the field
    bad = client.post(URL, json={**_body(r), "insurer_number": "x" * 9}, headers=world.auth("clinic"))
    assert bad.status_code == 422 and solved == [URL]
    assert [f["field"] for f in bad.json()["error"]["fields"]] == ["insurer_number"]


@pytest.mark.parametrize(
    ("content", "headers", "status"),
    [
        (b"{not json", {"Content-Type": "application/json"}, 422),  # FastAPI: the body before the caller
        (b"", {"Content-Type": "application/json"}, 422),
        (b'{"insurer_number": "12130019"}', {"Content-Type": "text/plain"}, 422),
        (b'["a list"]', {"Content-Type": "application/json"}, 422),
    ],
    ids=["invalid_json", "empty", "not_json_content_type", "not_an_object"],
)
def test_what_the_lean_path_does_not_take_is_fastapis_answer(client, world, solved, content, headers, status):
    res = client.post(URL, content=content, headers={**world.auth("clinic"), **headers})
    assert res.status_code == status, res.text
    assert res.json()["error"]["code"] and res.json()["error"]["message_ja"]


def test_callers_are_refused_as_before(client, world, solved):
    r = world.recipient()
    world.ticket(r)
    assert client.post(URL, json=_body(r)).status_code == 401  # no token: refused on the lean path too
    assert client.post(URL, json=_body(r), headers={"Authorization": "Bearer fujo_nope"}).status_code == 401
    office = client.post(URL, json=_body(r), headers=world.auth("office"))
    assert office.status_code == 403 and office.json()["error"]["code"]
    assert solved == []


def test_a_refused_body_counts_once_against_the_rate_limit(client, app, world, db, steady_window):
    app.state.rate_limiter = ratelimit.RateLimiter(db, {"checks": 3})
    r = world.recipient()
    world.ticket(r)
    auth = world.auth("clinic")
    refused = [client.post(URL, json={**_body(r), "birthdate": "1990-13-45"}, headers=auth) for _ in range(2)]
    assert [x.status_code for x in refused] == [422, 422]
    answers = [client.post(URL, json=_body(r), headers=auth) for _ in range(2)]
    assert [x.status_code for x in answers] == [200, 429]  # 2 refused + 1 answered = the limit of 3
