"""The introduction checklist (fujo.onboarding.service): steps in order, once each, who and when; the
運用テスト step takes a passing vendor-test report only; 運用開始 switches 「医療扶助」 on through the
facility service. SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import threading

import pytest
from sqlalchemy import select

from fujo.auth.principal import AUDITOR, FACILITY
from fujo.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from fujo.db import schema as s
from fujo.facility.service import get_settings
from fujo.onboarding import service
from fujo.onboarding.service import STEPS, StepAlreadyDone, StepOutOfOrder
from fujo.orgs.service import admin_principal, principal_for
from tests.factories import CLINIC
from tests.onboarding.conftest import NEW, report

KEYS = [st.key for st in STEPS]


def walk(db, principal, code, upto: str, **kw):
    """Mark done every step not done yet, up to and including ``upto``."""
    c = service.get_checklist(db, principal, code)
    for key in KEYS[: KEYS.index(upto) + 1]:
        if not c["steps"][KEYS.index(key)]["done"]:
            c = service.advance(db, principal, code, key, report=report() if key == "acceptance_test" else None, **kw)
    return c


def test_the_seven_steps_of_the_guide():
    assert [st.label for st in STEPS] == [
        "見積り",
        "発注",
        "パッケージ適用/設定変更",
        "運用テスト",
        "受付業務の確認",
        "補助金申請",
        "運用開始",
    ]


def test_a_new_facility_walks_every_step_in_order_and_goes_live(db, new_manager):
    c = service.get_checklist(db, new_manager)
    assert (c["facility_code"], c["done"], c["total"], c["next_step"], c["completed"]) == (NEW, 0, 7, "estimate", False)
    assert c["medical_assistance_enabled"] is False and c["can_advance"] is True
    assert [x["done"] for x in c["steps"]] == [False] * 7
    c = service.advance(db, new_manager, None, "estimate", note="  見積書受領（A社） ")
    first = c["steps"][0]
    assert first["done"] and first["note"] == "見積書受領（A社）" and first["done_by"] == "APIトークン t（管理者）"
    assert first["done_at"].endswith("+09:00")
    c = walk(db, new_manager, None, "subsidy")
    assert c["next_step"] == "go_live" and c["medical_assistance_enabled"] is False
    test = c["steps"][3]["report"]
    assert test["passed"] is True and test["tests"] == len(report().decode().split("<testcase")) - 1
    assert test["failures"] == 0 and len(test["sha256"]) == 64 and "designated" in test["cases"]
    c = service.advance(db, new_manager, NEW, "go_live")
    assert c["completed"] and c["done"] == 7 and c["next_step"] is None and c["can_advance"] is False
    assert c["medical_assistance_enabled"] is True
    settings = get_settings(db, principal_for(db, kind=FACILITY, code=NEW))
    assert settings["medical_assistance_enabled"] is True
    assert settings["changes"][0]["changed_by"] == "APIトークン t（管理者）"  # the facility service's record


def test_skipping_a_step_is_refused_naming_the_step_to_do_first(db, new_manager):
    with pytest.raises(StepOutOfOrder) as ei:
        service.advance(db, new_manager, None, "package")
    assert ei.value.status == 409 and ei.value.code == "onboarding_order"
    assert ei.value.message_ja == (
        "「パッケージ適用/設定変更」はまだ完了にできません。手順は順に進めます。先に「見積り」を完了してください"
        "（未完了: 見積り・発注）。"
    )
    service.advance(db, new_manager, None, "estimate")
    with pytest.raises(StepOutOfOrder) as ei:
        service.advance(db, new_manager, None, "package")
    assert ei.value.message_ja.endswith("先に「発注」を完了してください。")
    with pytest.raises(StepOutOfOrder):  # 運用開始 cannot be reached early, and the setting stays off
        service.advance(db, new_manager, None, "go_live")
    assert service.get_checklist(db, new_manager)["medical_assistance_enabled"] is False
    with pytest.raises(StepAlreadyDone) as ei:
        service.advance(db, new_manager, None, "estimate")
    assert ei.value.message_ja == "「見積り」は完了済みです。" and ei.value.code == "onboarding_done"
    with pytest.raises(ValidationFailed) as ei:
        service.advance(db, new_manager, None, "install")
    (p,) = ei.value.problems
    assert p.field == "step" and "estimate（見積り）" in p.message_ja and "go_live（運用開始）" in p.message_ja


def test_the_acceptance_test_takes_a_passing_report_of_every_case(db, new_manager):
    walk(db, new_manager, None, "package")

    def refused(data: bytes | None) -> tuple[str, str]:
        with pytest.raises(ValidationFailed) as ei:
            service.advance(db, new_manager, None, "acceptance_test", report=data)
        (p,) = ei.value.problems
        assert p.field == "report"
        return p.code, p.message_ja

    code, ja = refused(None)
    assert code == "required"
    code, ja = refused(report(failed=("designated", "late_ticket")))
    assert code == "test_failed"
    assert "運用テストに合格していないケースがあります（2件: designated、late_ticket）" in ja
    code, ja = refused(report(only=("designated", "echo")))
    assert code == "test_incomplete" and "shift_jis" in ja and "--case" in ja
    code, ja = refused(b"<?xml version='1.0'?><testsuites><testsuite name='pytest' tests='0'/></testsuites>")
    assert code == "not_vendor_test" and "fujo vendor-test" in ja
    code, ja = refused(b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><testsuites/>')
    assert code == "report_format" and "DOCTYPE" in ja
    code, ja = refused(b"not xml at all")
    assert code == "report_format"
    edited = report().replace(b'tests="', b'tests="9', 1)
    assert refused(edited)[0] == "report_format"
    assert service.get_checklist(db, new_manager)["next_step"] == "acceptance_test"  # nothing recorded
    c = service.advance(db, new_manager, None, "acceptance_test", report=report(), note="A社立会い")
    assert c["steps"][3]["report"]["passed"] is True and c["steps"][3]["note"] == "A社立会い"
    with pytest.raises(ValidationFailed) as ei:  # a report belongs to the acceptance test only
        service.advance(db, new_manager, None, "reception", report=report())
    assert ei.value.problems[0].code == "not_this_step"


def test_a_note_is_one_line_of_200_characters(db, new_manager):
    for bad in ("x" * 201, "一行目\n二行目", "tab\tinside"):
        with pytest.raises(ValidationFailed) as ei:
            service.advance(db, new_manager, None, "estimate", note=bad)
        assert ei.value.problems[0].field == "note"
    assert service.advance(db, new_manager, None, "estimate", note="あ" * 200)["steps"][0]["note"] == "あ" * 200


def test_who_may_see_and_advance(db, world, new_facility):
    reception = principal_for(db, kind=FACILITY, code=NEW, role="reception", actor="r（受付）")
    c = service.get_checklist(db, reception)  # every role sees its own checklist …
    assert c["facility_code"] == NEW and c["can_advance"] is False
    with pytest.raises(Forbidden) as ei:  # … only the 管理者 advances it
        service.advance(db, reception, None, "estimate")
    assert "管理者の権限が必要です" in ei.value.message_ja
    clinic = world.principal("clinic")
    with pytest.raises(Forbidden) as ei:
        service.get_checklist(db, clinic, NEW)
    assert ei.value.message_ja == "他の医療機関・薬局の導入手順は扱えません。"
    with pytest.raises(Forbidden):
        service.advance(db, clinic, NEW, "estimate")
    for p in (world.principal("office"), world.principal("insurer")):
        with pytest.raises(Forbidden):
            service.get_checklist(db, p, NEW)
        with pytest.raises(Forbidden):
            service.list_facilities(db, p)
    with pytest.raises(Forbidden):
        service.list_facilities(db, clinic)
    auditor = dataclasses.replace(world.principal("admin"), role=AUDITOR)
    with pytest.raises(Forbidden):
        service.get_checklist(db, auditor, NEW)
    admin = world.principal("admin")
    with pytest.raises(NotFound):  # a valid code, but no facility organisation
        service.get_checklist(db, admin, "1311299984")
    with pytest.raises(ValidationFailed) as ei:
        service.get_checklist(db, admin, "123")
    assert ei.value.problems[0].field == "facility_code"
    assert service.get_checklist(db, admin, NEW)["can_advance"] is True


def test_the_administrator_lists_every_facility_and_advances_any(db, world, new_facility):
    admin = dataclasses.replace(admin_principal(), actor="")
    walk(db, admin, NEW, "subsidy", note="運用管理者が代行")
    rows = {r["facility_code"]: r for r in service.list_facilities(db, admin)}
    assert set(rows) == {CLINIC, world.orgs["pharmacy"]["code"], world.orgs["other"]["code"], NEW}
    assert (rows[NEW]["done"], rows[NEW]["next_step"], rows[NEW]["next_label"]) == (6, "go_live", "運用開始")
    assert rows[NEW]["last_done_at"] and rows[CLINIC]["done"] == 0 and rows[CLINIC]["last_done_at"] is None
    c = service.advance(db, admin, NEW, "go_live")
    assert c["completed"] and c["steps"][-1]["done_by"] == "運用管理者（CLI）"
    settings = get_settings(db, principal_for(db, kind=FACILITY, code=NEW))
    assert settings["medical_assistance_enabled"] is True
    assert settings["changes"][0]["changed_by"] == "運用管理者（CLI）"
    rows = {r["facility_code"]: r for r in service.list_facilities(db, admin)}
    assert rows[NEW]["completed"] is True and rows[NEW]["medical_assistance_enabled"] is True


def test_two_at_once_record_a_step_once(db, new_manager):
    results: list[object] = []
    barrier = threading.Barrier(4)

    def go() -> None:
        barrier.wait()
        try:
            results.append(service.advance(db, new_manager, None, "estimate")["done"])
        except Conflict as e:
            results.append(e.code)

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(map(str, results)) == ["1", "onboarding_done", "onboarding_done", "onboarding_done"]
    with db.read() as conn:
        assert len(conn.execute(select(s.onboarding_steps)).all()) == 1
