"""FHIR R4 interface following JP Core conventions (issue 14, docs/FHIR.md): an adapter over the
same services as the native API — check by numbers, 委託先一括取得 (paged), 薬剤情報 and the consent —
with the same rules and audit."""
