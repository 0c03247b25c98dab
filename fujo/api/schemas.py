"""Pydantic request models generated from the field tables, so the OpenAPI document describes
exactly the fields the validators check (descriptions carry the Japanese labels)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from ..core.fields import Field as Spec

_EXAMPLES = {
    "payer": "12130019",
    "recipient": "1010008",
    "date": "2024-07-01",
    "month": "2024-07",
    "facility": "1311234569",
    "insurer": "06139992",
}


class Loose(BaseModel):
    # Unknown keys pass through to the domain validator, which names them in its error.
    model_config = ConfigDict(extra="allow")


def model_from_fields(name: str, specs: tuple[Spec, ...], required: bool = True, **extra: Any) -> type[Loose]:
    fields: dict[str, Any] = {}
    for f in specs:
        typ = (int | str | None) if f.kind == "amount" else (str | None)
        desc = f"{f.label_ja}" + (f" (wire: {f.wire})" if f.wire else "")
        if f.table:
            desc += " — " + ", ".join(f"{k}={v}" for k, v in f.table.items())
        ex = _EXAMPLES.get(f.kind)
        is_req = required and f.required
        fields[f.name] = (
            str if is_req else typ,
            Field(... if is_req else None, description=desc, examples=[ex] if ex else None),
        )
    fields.update(extra)
    return create_model(name, __base__=Loose, **fields)


def dump(model: BaseModel) -> dict[str, Any]:
    d = model.model_dump(exclude_unset=True)
    d.update(model.model_extra or {})
    return d
