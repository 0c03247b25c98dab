"""The agent's HTTP client for the fujo server, with the facility's bearer token.

Every failure becomes a :class:`TerminalError` the agent can write into an answer: the server's
own error (code and Japanese message), or "server unreachable" when no answer came back.
Only a failure to *connect* is retried: then the request never reached the server, so a retry
cannot record a check twice.
"""

from __future__ import annotations

import logging
import time

import httpx

from .. import outbound
from .errors import TerminalError

log = logging.getLogger("fujo.terminal")

# Server error codes that have a terminal error of their own; any other 4xx is "server_refused".
_SERVER_CODES = {
    "medical_assistance_disabled": "medical_assistance_disabled",
    "not_found": "not_found",
    "validation_error": "invalid_value",
    "unauthorized": "refused",
    "forbidden": "refused",
}


class ServerClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        timeout: float = 10.0,
        connect_retries: int = 2,
        transport: httpx.BaseTransport | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self._http = outbound.client(
            base_url=self.base_url + "/api/v1",
            timeout=httpx.Timeout(timeout, connect=3.0),
            headers={"Authorization": f"Bearer {token}"},
            transport=transport,
        )
        self.connect_retries = connect_retries
        self._facility_code: str | None = None

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kw) -> dict:
        for attempt in range(self.connect_retries + 1):
            try:
                res = self._http.request(method, path, **kw)
                break
            except httpx.ConnectError:
                if attempt == self.connect_retries:
                    raise TerminalError(
                        "server_unreachable",
                        f"資格確認サーバー（{self.base_url}）に接続できません。しばらくしてから再度要求してください。",
                        f"Cannot connect to the fujo server at {self.base_url}.",
                    ) from None
                time.sleep(0.2 * (attempt + 1))
            except httpx.HTTPError as e:
                # Sent but no answer: the server may have acted, so no retry here.
                raise TerminalError(
                    "server_error",
                    "資格確認サーバーから応答がありません（タイムアウト等）。",
                    f"No answer from the fujo server ({type(e).__name__}).",
                ) from None
        if res.status_code >= 500:
            raise TerminalError(
                "server_error",
                "資格確認サーバーで内部エラーが発生しました。",
                f"fujo server error (HTTP {res.status_code}).",
            )
        try:
            data = res.json()
        except ValueError:
            raise TerminalError(
                "server_error",
                "資格確認サーバーの応答を読めません。",
                f"Unreadable answer from the fujo server (HTTP {res.status_code}).",
            ) from None
        if res.status_code >= 400:
            err = (data or {}).get("error") or {}
            slug = _SERVER_CODES.get(err.get("code") or "", "server_refused")
            log.info("server refused %s %s: %s", method, path, err.get("code"))
            raise TerminalError(
                slug,
                err.get("message_ja") or "要求が受け付けられませんでした。",
                err.get("message_en") or f"Refused (HTTP {res.status_code}).",
            )
        return data

    # --- the calls the terminal makes --------------------------------------------------------
    def facility_code(self) -> str:
        if self._facility_code is None:
            self._facility_code = self._call("GET", "/facility/settings")["facility_code"]
        return self._facility_code

    def settings(self) -> dict:
        return self._call("GET", "/facility/settings")

    def set_medical_assistance(self, enabled: bool) -> dict:
        return self._call("PUT", "/facility/settings", json={"medical_assistance_enabled": enabled})

    def check_numbers(self, fields: dict) -> dict:
        return self._call("POST", "/checks/numbers", json=_numbers_body(fields))

    def check_numbers_batch(self, items: list[dict], timeout: float = 130.0) -> dict:
        """POST /checks/numbers/batch (OQSmuquc01): one answer per item, in order. Waits longer
        than a single call: the server answers a batch of 1,000 within its own 120 s limit."""
        return self._call(
            "POST",
            "/checks/numbers/batch",
            json={"items": [_numbers_body(f) for f in items]},
            timeout=httpx.Timeout(timeout, connect=3.0),
        )

    def challenge(self) -> str:
        return self._call("POST", "/checks/card/challenge")["challenge"]

    def check_card(self, proof: dict, confirmation_date: str | None = None) -> dict:
        body = dict(proof)
        if confirmation_date:
            body["confirmation_date"] = confirmation_date
        return self._call("POST", "/checks/card", json=body)

    def tickets(self, month: str) -> dict:
        return self._call("GET", "/facility/tickets", params={"month": month})

    def register_reference(self, fields: dict) -> dict:
        body = {
            k: fields[k]
            for k in ("reference_number", "insurer_number", "identification_number", "birthdate", "branch_number")
            if fields.get(k)
        }
        return self._call("PUT", "/facility/references", json=body)


def _numbers_body(fields: dict) -> dict:
    """The body of a check by numbers from the fields read from a request file."""
    body = {
        k: fields[k]
        for k in (
            "insurer_number",
            "identification_number",
            "birthdate",
            "card_symbol",
            "branch_number",
            "confirmation_date",
        )
        if fields.get(k)
    }
    if fields.get("limit_application_consent"):  # LimitApplicationCertificateRelatedConsFlg 1 in the request
        body["limit_application_consent"] = True
    return body
