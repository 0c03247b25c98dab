"""fujo's outgoing HTTP clients (fujo.outbound) share one TLS context that still verifies servers."""

from __future__ import annotations

import ssl

import httpx

from fujo import outbound


def test_every_client_shares_one_context_that_verifies_certificates_and_host_names():
    ctx = outbound.tls_context()
    assert ctx is outbound.tls_context()
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert ctx.get_ca_certs() or ctx.cert_store_stats()["x509_ca"] > 0  # the CA bundle httpx trusts is loaded
    with outbound.client(base_url="https://example.invalid") as c:
        assert isinstance(c, httpx.Client)


def test_a_request_goes_out_and_its_answer_comes_back(live):
    res = outbound.get(f"{live}/api/v1/health")
    assert res.status_code == 200 and res.json() == {"status": "ok"}
    assert outbound.post(f"{live}/api/v1/health").status_code == 405
    assert outbound.delete(f"{live}/api/v1/health").status_code == 405
