"""docs/API.md documents every endpoint the server offers (so the document cannot silently rot)."""

import re
from pathlib import Path

API_MD = Path(__file__).resolve().parents[2] / "docs" / "API.md"


def _norm(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path.split("?")[0])


def test_every_api_endpoint_has_a_section_and_a_curl_example(client):
    text = API_MD.read_text()
    documented = set()
    for heading in re.findall(r"^### (.*)$", text, flags=re.M):
        for method, path in re.findall(r"`(GET|POST|PUT|PATCH|DELETE) (/[^`\s]*)", heading):
            documented.add((method, "/api/v1" + _norm(path)))
    spec = client.get("/openapi.json").json()
    offered = {(m.upper(), _norm(p)) for p, ms in spec["paths"].items() if p.startswith("/api/v1/") for m in ms}
    assert offered - documented == set()
    sections = re.split(r"^### ", text, flags=re.M)[1:]
    assert all("curl " in s for s in sections), "every section has a runnable curl example"
