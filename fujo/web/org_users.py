"""The organisation's own users, managed by its 管理者 (facility: /desk/users, welfare office:
/office/users): list with roles, add a user with a role, stop a user. Every route checks the role."""
# no "from __future__ import annotations": the routes below are made per prefix, and FastAPI must see
# the real (closure) types of their parameters, not strings

from typing import Any

from fastapi import APIRouter, Depends, Form, Request

from ..accounts import service as accounts
from ..auth.principal import ROLES
from ..core.errors import FujoError
from .kit import FacilityUser, OfficeUser, csrf_guard, db_of, refusal, render, require_manager


def _page(request, staff, base: str, status: int = 200, **kw):
    db = db_of(request)
    p = staff.principal
    ctx: dict[str, Any] = dict(
        title="利用者と権限",
        users=accounts.list_users(db, p.organisation_id),
        roles=ROLES[p.kind],
        base=base,
        values={},
        errors={},
        notice=None,
    )
    ctx.update(kw)
    return render(request, "shared/org_users.html", status=status, **ctx)


def _router(prefix: str, Staff) -> APIRouter:
    router = APIRouter(prefix=prefix, dependencies=[Depends(csrf_guard)], include_in_schema=False)

    @router.get("/users")
    def users(request: Request, staff: Staff):
        require_manager(staff)
        return _page(request, staff, prefix)

    @router.post("/users")
    def user_create(
        request: Request,
        staff: Staff,
        login: str = Form("", max_length=60),
        display_name: str = Form("", max_length=60),
        password: str = Form("", max_length=200),
        role: str = Form("", max_length=20),
    ):
        require_manager(staff)
        values = {"login": login, "display_name": display_name, "role": role}
        try:
            accounts.create_user(
                db_of(request),
                staff.principal.organisation_id,
                login=login,
                password=password,
                display_name=display_name or None,
                role=role or None,
            )
        except FujoError as e:
            status, shown = refusal(e)
            return _page(request, staff, prefix, status, values=values, **shown)
        return _page(request, staff, prefix, notice=f"利用者「{login.strip()}」を登録しました。")

    @router.post("/users/{user_id}/disable")
    def user_disable(request: Request, staff: Staff, user_id: int):
        require_manager(staff)
        if user_id == staff.session.user_id:
            return _page(request, staff, prefix, 409, message="自分自身は停止できません。")
        try:
            accounts.set_user_disabled(db_of(request), staff.principal.organisation_id, user_id, True)
        except FujoError as e:
            return _page(request, staff, prefix, e.status, message=e.message_ja)
        return _page(request, staff, prefix, notice="利用者を停止しました（サインイン中のセッションも終了しました）。")

    return router


desk_router = _router("/desk", FacilityUser)
office_router = _router("/office", OfficeUser)
