from tests.factories import CLINIC, PAYER


def test_fixture_world_runs_a_designated_check_on_each_backend(world, client):
    r = world.recipient()
    world.ticket(r)
    res = client.post(
        "/api/v1/checks/numbers",
        headers=world.auth("clinic"),
        json={
            "insurer_number": PAYER,
            "identification_number": r["recipient_number"],
            "birthdate": r["birthdate"],
            "confirmation_date": "2024-07-10",
        },
    )
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["QualificationValidity"] == "1"
    assert (
        body["ResultList"][0]["PublicExpenseResultList"]["MedicalTicketInfo"][0]["DesignatedMedicalInstitutionCode"]
        == CLINIC
    )
