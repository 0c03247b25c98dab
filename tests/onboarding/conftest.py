"""A facility that has not started (「医療扶助」 利用しない), and vendor-test reports as the kit writes them."""

from __future__ import annotations

import pytest

from fujo.auth.principal import FACILITY
from fujo.core.numbers import with_check_digit
from fujo.orgs.service import create_organisation, principal_for
from fujo.terminal.cases import CASES
from fujo.terminal.vendortest import CaseResult, junit_xml

NEW = with_check_digit("131155555")  # a clinic that has just signed up: 「医療扶助」 starts as 利用しない


def report(failed: tuple[str, ...] = (), only: tuple[str, ...] | None = None) -> bytes:
    """The JUnit XML of ``fujo vendor-test`` (every case, or ``only`` these), ``failed`` ones failing."""
    return junit_xml(
        [
            CaseResult(
                key, title, key not in failed, 0.25, [f"AssertionError: {key} went wrong"] if key in failed else []
            )
            for key, title, _fn in CASES
            if only is None or key in only
        ]
    )


@pytest.fixture
def new_facility(world, db):
    org = create_organisation(db, kind=FACILITY, code=NEW, name="新規クリニック", phone=None, address=None)
    world.orgs["new"] = org
    return org


@pytest.fixture
def new_manager(new_facility, db):
    return principal_for(db, kind=FACILITY, code=NEW, role="manager", user_id=None, actor="APIトークン t（管理者）")
