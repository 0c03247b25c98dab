"""Front desk: the facility's ticket events, live — the same events its webhooks deliver (issue 15),
with how each delivery stands. The page polls ``/desk/events/feed`` (JSON) every few seconds through
``/static/events.js`` (no inline script: CSP); without JavaScript it reloads itself.

What changed and when, never who: the person is shown (and recorded) in 委託先一括取得."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from ..core import codes
from ..core.era import wareki_month
from ..core.errors import FujoError
from ..webhooks import service as webhooks
from .kit import FacilityUser, csrf_guard, db_of, env, render

router = APIRouter(prefix="/desk/events", dependencies=[Depends(csrf_guard)], include_in_schema=False)

# how often the page asks for new events: written into the table's data-poll, which static/events.js
# reads, so the page has one source for it (the browser test sets it shorter instead of waiting 5 s)
POLL_MS = 5000
STATE_JA = {"delivered": "送信済み", "pending": "送信待ち", None: "—"}


def _row(e: dict) -> dict:
    m = str(e["treatment_month"] or "")
    return {
        **e,
        "ticket_type_ja": codes.TICKET_TYPES.get(e["ticket_type"], e["ticket_type"] or "-"),
        "month_ja": wareki_month(int(m[:4]), int(m[4:6])) if len(m) == 6 and m.isdigit() else "-",
        "month_param": f"{m[:4]}-{m[4:6]}" if len(m) == 6 else "",
        "changed_ja": env.filters["wtime"](e["changed_at"]),
        "webhook_ja": STATE_JA.get(e["webhook"], "—")
        + (f"（失敗{e['attempts'] - 1}回）" if e["webhook"] == "pending" and e["attempts"] > 1 else ""),
    }


@router.get("")
def events_page(request: Request, staff: FacilityUser):
    db, p = db_of(request), staff.principal
    try:
        data = webhooks.recent_events(db, p, limit=50)
    except FujoError as e:
        return render(request, "desk/events.html", status=e.status, title="医療券の更新通知", message=e.message_ja)
    hooks = webhooks.list_webhooks(db, p)["webhooks"]
    return render(
        request,
        "desk/events.html",
        title="医療券の更新通知",
        events=[_row(e) for e in data["events"]],
        latest=data["latest"],
        hooks=hooks,
        poll_ms=POLL_MS,
    )


@router.get("/feed")
def events_feed(request: Request, staff: FacilityUser, after: int = Query(0, ge=0, le=2**62)):
    """The events after ``after`` (a seq), oldest first, as the page adds them to its table."""
    try:
        data = webhooks.recent_events(db_of(request), staff.principal, after=after, limit=100)
    except FujoError as e:
        return JSONResponse({"error": e.message_ja}, status_code=e.status)
    return JSONResponse({"latest": data["latest"], "events": [_row(e) for e in data["events"]]})
