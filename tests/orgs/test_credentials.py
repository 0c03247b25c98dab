"""Revoking credentials: a 204 without a body, and the operators never lock themselves out."""

from __future__ import annotations

from tests.helpers import snapshot


def _creds(client, world, key):
    org = world.orgs[key]
    return org, client.get(f"/api/v1/organisations/{org['id']}/credentials", headers=world.auth("admin")).json()


def test_revoking_answers_204_without_a_body_and_the_connection_goes_on(client, world):
    org, creds = _creds(client, world, "clinic")
    res = client.delete(f"/api/v1/organisations/{org['id']}/credentials/{creds[0]['id']}", headers=world.auth("admin"))
    assert res.status_code == 204
    assert res.content == b""
    assert "content-length" not in res.headers or res.headers["content-length"] == "0"
    assert client.get("/api/v1/health").status_code == 200


def test_the_last_active_admin_credential_cannot_be_revoked(client, world, db):
    org, creds = _creds(client, world, "admin")
    (only,) = [c for c in creds if not c["revoked"]]
    before = snapshot(db)
    res = client.delete(f"/api/v1/organisations/{org['id']}/credentials/{only['id']}", headers=world.auth("admin"))
    assert res.status_code == 409
    assert "最後の有効な運用管理者の認証情報" in res.json()["error"]["message_ja"]
    assert snapshot(db) == before
    assert client.get(f"/api/v1/organisations/{org['id']}/credentials", headers=world.auth("admin")).status_code == 200


def test_with_a_second_admin_credential_the_first_can_be_revoked(client, world):
    org, creds = _creds(client, world, "admin")
    issued = client.post(
        f"/api/v1/organisations/{org['id']}/credentials", json={"label": "spare"}, headers=world.auth("admin")
    )
    assert issued.status_code == 201
    new = {"Authorization": f"Bearer {issued.json()['token']}"}
    res = client.delete(f"/api/v1/organisations/{org['id']}/credentials/{creds[0]['id']}", headers=new)
    assert res.status_code == 204
    assert client.get(f"/api/v1/organisations/{org['id']}/credentials", headers=world.auth("admin")).status_code == 401
    last = issued.json()["id"]
    assert client.delete(f"/api/v1/organisations/{org['id']}/credentials/{last}", headers=new).status_code == 409


def test_other_organisations_credentials_are_not_counted_as_admin(client, world):
    org, creds = _creds(client, world, "office")
    res = client.delete(f"/api/v1/organisations/{org['id']}/credentials/{creds[0]['id']}", headers=world.auth("admin"))
    assert res.status_code == 204
