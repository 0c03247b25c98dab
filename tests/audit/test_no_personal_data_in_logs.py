"""Personal data never reaches the application's logs. A realistic flow — the demo loaded, checks by
card and by numbers, refused checks, a CSV import with errors, a screen sign-in refused, internal
errors on the API and on a screen — runs with every log record captured at DEBUG (a handler on the
root logger, root at DEBUG, uvicorn's and fujo's loggers at DEBUG too), and the captured text is
searched for the demo people's names, kana, birth dates, recipient numbers and 個人番号."""

from __future__ import annotations

import datetime as dt
import logging
import re

import pytest
from fastapi.testclient import TestClient

from fujo.core.dates import today_jst
from fujo.core.numbers import with_check_digit
from fujo.demo import data as demo
from tests.helpers import card_proof, import_job

LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "fujo", "fujo.api", "fujo.web", "fastapi")


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))  # with the traceback, if any


@pytest.fixture
def captured():
    handler = _Capture()
    saved = {name: (logging.getLogger(name).level, logging.getLogger(name).propagate) for name in LOGGERS}
    for name in LOGGERS:
        lg = logging.getLogger(name)
        lg.setLevel(logging.DEBUG)
        if name.startswith("uvicorn"):
            lg.addHandler(handler)  # uvicorn's own config may stop propagation
    logging.getLogger().addHandler(handler)
    yield handler
    logging.getLogger().removeHandler(handler)
    for name, (level, propagate) in saved.items():
        lg = logging.getLogger(name)
        lg.setLevel(level)
        lg.propagate = propagate
        if name.startswith("uvicorn"):
            lg.removeHandler(handler)


def _personal(today: dt.date) -> list[str]:
    out = []
    for key, body, name, kana, _sex, born, _pin in demo.PEOPLE:
        out += [name, kana, kana.replace(" ", ""), born.isoformat(), born.strftime("%Y%m%d"), with_check_digit(body)]
        out.append(demo.individual_number(key))
    for q in demo._insured_only(today):
        out += [q["name"], q["name_kana"], q["birthdate"], q["birthdate"].replace("-", "")]
    return out


def _bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {demo.TOKENS[key]}"}


def test_a_realistic_flow_logs_no_personal_data(app, db, ca, tmp_path, captured, monkeypatch):
    today = today_jst()
    info = demo.load_demo(db, ca, tmp_path / "cards", today=today)
    from fujo.demo.users import load_demo_users

    load_demo_users(db)
    rn = {key: with_check_digit(body) for key, body, *_ in demo.PEOPLE}
    born = {key: b for key, _, _, _, _, b, _ in demo.PEOPLE}
    from fujo.orgs.service import principal_for

    clinic = principal_for(db, kind="facility", code=demo.CLINIC)
    with TestClient(app, raise_server_exceptions=False) as client:
        # checks by numbers: found, not designated, 廃止, not found, a wrong birth date, a bad check digit
        for key in rn:
            body = {
                "insurer_number": demo.OFFICE_PAYER,
                "identification_number": rn[key],
                "birthdate": born[key].isoformat(),
            }
            assert client.post("/api/v1/checks/numbers", headers=_bearer("clinic"), json=body).status_code == 200
            assert client.post("/api/v1/checks/numbers", headers=_bearer("other_clinic"), json=body).status_code == 200
        wrong = {"insurer_number": demo.OFFICE_PAYER, "identification_number": rn["ichiro"], "birthdate": "2001-02-03"}
        assert client.post("/api/v1/checks/numbers", headers=_bearer("clinic"), json=wrong).status_code == 200
        bad = {"insurer_number": demo.OFFICE_PAYER, "identification_number": rn["ichiro"][:-1] + "0"}
        assert client.post("/api/v1/checks/numbers", headers=_bearer("clinic"), json=bad).status_code == 422
        # checks by card, one with consent to the 薬剤情報等; a refused one (replayed challenge)
        card = {"path": tmp_path / "cards" / "ichiro.p12", "pin": info["cards"]["ichiro"]["pin"]}
        proof = card_proof(db, clinic, card, {"PharmacistsInfo": True})
        fields = {k: proof[k] for k in ("challenge", "certificate", "signature", "consent")}
        assert client.post("/api/v1/checks/card", headers=_bearer("clinic"), json=fields).status_code == 200
        assert client.post("/api/v1/checks/card", headers=_bearer("clinic"), json=fields).status_code in (403, 422)
        # the insured-only people, by numbers
        for q in demo._insured_only(today):
            body = {
                "insurer_number": q["insurer_number"],
                "identification_number": q["card_number"],
                "birthdate": q["birthdate"],
            }
            assert client.post("/api/v1/checks/numbers", headers=_bearer("clinic"), json=body).status_code in (200, 422)
        # a CSV import with errors: an existing recipient and a bad birth date
        csv = (
            "payer_number,recipient_number,name,name_kana,sex,birthdate,address,qualification_date\r\n"
            f"{demo.OFFICE_PAYER},{rn['hanako']},扶助花子,ﾌｼﾞｮ ﾊﾅｺ,2,1985-04-02,東京都,2020-04-01\r\n"
            f"{demo.OFFICE_PAYER},{with_check_digit('109999')},保護次郎,ﾎｺﾞ ｼﾞﾛｳ,1,1978-13-03,東京都,2020-04-01\r\n"
        ).encode()
        res = import_job(
            client, "/api/v1/imports/recipients", headers=_bearer("office"), files={"file": ("r.csv", csv)}
        )
        assert res.status_code == 422
        # the office reads and changes a recipient (the numbers are in the path)
        path = f"/api/v1/recipients/{demo.OFFICE_PAYER}/{rn['jiro']}"
        assert client.get(path, headers=_bearer("office")).status_code == 200
        assert client.patch(path, headers=_bearer("office"), json={"address": "東京都○○市9-9-9"}).status_code == 200
        # a refused web sign-in, with a person's name as the login
        page = client.get("/login").text
        tok = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        client.post("/login", data={"csrf_token": tok, "org_code": "13001", "login": "生保一郎", "password": "x"})
        # internal errors while answering about a person: on the API, and on a screen
        from fujo.registry import service as registry

        def boom(*a, **k):
            raise RuntimeError(f"failed for {demo.PEOPLE[2][2]} born {demo.PEOPLE[2][5]}")

        monkeypatch.setattr(registry, "get_recipient", boom)
        assert client.get(path, headers=_bearer("office")).status_code == 500
        client.post(
            "/login", data={"csrf_token": tok, "org_code": "13001", "login": "office", "password": "demo-office-pass"}
        )
        assert client.get(f"/office/recipients/{demo.OFFICE_PAYER}/{rn['jiro']}").status_code == 500
    # httpx logs the test client's own requests (the test's side of the wire, not the application)
    lines = [line for line in captured.lines if not line.startswith("httpx ")]
    text = "\n".join(lines)
    assert "internal error" in text  # the errors were logged, and the log was captured
    leaked = sorted({p for p in _personal(today) if p in text})
    assert leaked == [], [line for line in lines if any(p in line for p in leaked)][:5]
