"""Administrator API: organisations and their credentials."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from ..api.deps import DB, JSON, Caller, RowId
from ..api.models import errors
from ..auth.principal import ADMIN
from . import service
from .models import CredentialIssuedOut, CredentialOut, OrganisationOut

router = APIRouter(prefix="/api/v1/organisations", tags=["administrator"])


class OrganisationIn(BaseModel):
    kind: str = Field(description="admin | welfare_office | facility | insurer")
    code: str = Field(
        description="医療機関コード (facility), 保険者番号 (insurer), office code (welfare office)", max_length=20
    )
    name: str = Field(max_length=100)
    phone: str | None = Field(None, max_length=30)
    address: str | None = Field(None, max_length=200)
    payer_numbers: list[str] = Field(default_factory=list, description="公費負担者番号 (welfare office only)")


class CredentialIn(BaseModel):
    label: str | None = Field(None, max_length=100)
    role: str | None = Field(
        None,
        max_length=20,
        description="role inside the organisation: facility reception | clinician | manager, "
        "welfare office caseworker | manager (default: reception / caseworker)",
    )


@router.post("", status_code=201, responses={201: {"model": OrganisationOut}, **errors(403, 409, 422)})
def create_organisation(body: OrganisationIn, db: DB, caller: Caller):
    caller.require(ADMIN)
    return JSON(
        service.create_organisation(
            db,
            kind=body.kind,
            code=body.code,
            name=body.name,
            phone=body.phone,
            address=body.address,
            payer_numbers=body.payer_numbers,
        ),
        status_code=201,
    )


@router.get("", responses={200: {"model": list[OrganisationOut]}, **errors(403, 422)})
def list_organisations(db: DB, caller: Caller, kind: str | None = None):
    caller.require(ADMIN)
    return JSON(service.list_organisations(db, kind))


@router.get("/{org_id}", responses={200: {"model": OrganisationOut}, **errors(403, 404, 422)})
def get_organisation(org_id: RowId, db: DB, caller: Caller):
    caller.require(ADMIN)
    return JSON(service.get_organisation(db, org_id))


@router.post(
    "/{org_id}/credentials", status_code=201, responses={201: {"model": CredentialIssuedOut}, **errors(403, 404, 422)}
)
def issue_credential(org_id: RowId, body: CredentialIn, db: DB, caller: Caller):
    """Returns the new token once; only its hash is stored."""
    caller.require(ADMIN)
    return JSON(service.issue_credential(db, org_id, label=body.label, role=body.role), status_code=201)


@router.get("/{org_id}/credentials", responses={200: {"model": list[CredentialOut]}, **errors(403, 422)})
def list_credentials(org_id: RowId, db: DB, caller: Caller):
    caller.require(ADMIN)
    return JSON(service.list_credentials(db, org_id))


@router.delete(
    "/{org_id}/credentials/{credential_id}",
    status_code=204,
    responses={204: {"description": "revoked (no body)"}, **errors(403, 404, 409, 422)},
)
def revoke_credential(org_id: RowId, credential_id: RowId, db: DB, caller: Caller):
    caller.require(ADMIN)
    service.revoke_credential(db, org_id, credential_id)
    return Response(status_code=204)  # no body: a 204 with one makes the server drop the connection
