"""The facility's 照会番号 (診察券 use) and authentication of every call."""

from __future__ import annotations

from tests.factories import PAYER
from tests.helpers import card_proof, snapshot


def test_reference_number_comes_back_on_later_card_checks(client, world, db):
    r = world.recipient()
    world.ticket(r)
    card = world.card(r)
    res = client.put(
        "/api/v1/facility/references",
        headers=world.auth("clinic"),
        json={
            "reference_number": "0000001",
            "insurer_number": PAYER,
            "identification_number": r["recipient_number"],
            "birthdate": r["birthdate"],
        },
    )
    assert res.status_code == 200, res.text
    proof = card_proof(db, world.principal("clinic"), card)
    body = client.post(
        "/api/v1/checks/card", headers=world.auth("clinic"), json={**proof, "confirmation_date": "2024-07-10"}
    ).json()
    assert body["ResultList"][-1]["ReferenceNumber"] == "0000001"
    # another facility's check does not see this facility's patient number
    proof = card_proof(db, world.principal("other"), card)
    body = client.post(
        "/api/v1/checks/card", headers=world.auth("other"), json={**proof, "confirmation_date": "2024-07-10"}
    ).json()
    assert "ReferenceNumber" not in body["ResultList"][-1]


def test_reference_number_by_card_proof_and_update(client, world, db):
    r = world.recipient()
    card = world.card(r)
    for ref in ("A1", "B2"):
        proof = card_proof(db, world.principal("clinic"), card)
        res = client.put(
            "/api/v1/facility/references",
            headers=world.auth("clinic"),
            json={"reference_number": ref, "card_proof": proof},
        )
        assert res.status_code == 200, res.text
    assert [row[3] for row in snapshot(db)["reference_numbers"]] == ["B2"]


def test_bad_reference_number_changes_nothing(client, world, db):
    r = world.recipient()
    world.card(r)
    before = snapshot(db)
    for ref in ("", "with space", "あいう", "x" * 21):
        res = client.put(
            "/api/v1/facility/references",
            headers=world.auth("clinic"),
            json={
                "reference_number": ref,
                "insurer_number": PAYER,
                "identification_number": r["recipient_number"],
                "birthdate": r["birthdate"],
            },
        )
        assert res.status_code == 422, ref
    res = client.put(
        "/api/v1/facility/references",
        headers=world.auth("clinic"),
        json={"reference_number": "A1", "insurer_number": PAYER, "identification_number": r["recipient_number"]},
    )
    assert res.status_code == 422 and res.json()["error"]["fields"][0]["field"] == "birthdate"
    res = client.put(
        "/api/v1/facility/references",
        headers=world.auth("clinic"),
        json={
            "reference_number": "A1",
            "insurer_number": PAYER,
            "identification_number": r["recipient_number"],
            "birthdate": "1990-01-16",
        },
    )
    assert res.status_code == 404
    assert snapshot(db) == before


def test_a_facility_cannot_link_an_unlinked_recipient_by_registering_a_reference(client, world, db):
    """Registering a 照会番号 never touches the registry: 初回ひも付け stays the office's act."""
    r = world.recipient()
    before = snapshot(db)
    res = client.put(
        "/api/v1/facility/references",
        headers=world.auth("other"),
        json={
            "reference_number": "X1",
            "insurer_number": PAYER,
            "identification_number": r["recipient_number"],
            "birthdate": r["birthdate"],
        },
    )
    assert res.status_code == 409
    assert "ひも付け" in res.json()["error"]["message_ja"]
    assert snapshot(db) == before
    card = world.card(r)  # the office can still link the real card
    assert card["person_id"] is not None


def test_calls_without_or_with_a_bad_or_revoked_token_are_refused(client, world):
    assert client.get("/api/v1/facility/settings").status_code == 401
    assert client.get("/api/v1/facility/settings", headers={"Authorization": "Bearer nope"}).status_code == 401
    org = world.orgs["clinic"]
    creds = client.get(f"/api/v1/organisations/{org['id']}/credentials", headers=world.auth("admin")).json()
    res = client.delete(f"/api/v1/organisations/{org['id']}/credentials/{creds[0]['id']}", headers=world.auth("admin"))
    assert res.status_code == 204
    res = client.get("/api/v1/facility/settings", headers=world.auth("clinic"))
    assert res.status_code == 401
    assert res.json()["error"]["message_ja"]


def test_tokens_are_stored_hashed(world, db):
    rows = snapshot(db)["credentials"]
    assert all(world.tokens["clinic"] not in map(str, row) for row in rows)


def test_admin_creates_organisations_and_tokens(client, world):
    res = client.post(
        "/api/v1/organisations",
        headers=world.auth("admin"),
        json={"kind": "facility", "code": "2711234561", "name": "□□病院"},
    )
    assert res.status_code == 422  # check digit
    from fujo.core.numbers import with_check_digit

    code = with_check_digit("271123456")
    res = client.post(
        "/api/v1/organisations", headers=world.auth("admin"), json={"kind": "facility", "code": code, "name": "□□病院"}
    )
    assert res.status_code == 201, res.text
    tok = client.post(
        f"/api/v1/organisations/{res.json()['id']}/credentials", headers=world.auth("admin"), json={"label": "レセコン"}
    ).json()["token"]
    got = client.get("/api/v1/facility/settings", headers={"Authorization": f"Bearer {tok}"}).json()
    # 「医療扶助」 starts as 利用しない; a token without a role is the least one (受付), who cannot switch it
    assert got == {
        "facility_code": code,
        "name": "□□病院",
        "medical_assistance_enabled": False,
        "can_change": False,
        "changes": [],
    }
    assert (
        client.post(
            "/api/v1/organisations", headers=world.auth("clinic"), json={"kind": "facility", "code": code, "name": "x"}
        ).status_code
        == 403
    )


def test_openapi_is_served(client):
    spec = client.get("/openapi.json").json()
    assert "/api/v1/checks/numbers" in spec["paths"]
    assert "/api/v1/facility/tickets/changes" in spec["paths"]
