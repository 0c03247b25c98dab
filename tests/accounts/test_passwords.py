"""Passwords are stored as scrypt hashes with the production cost, never in clear."""

from __future__ import annotations

from fujo.accounts import service


def test_production_cost_is_scrypt_n_16384_and_the_hash_verifies(monkeypatch):
    monkeypatch.setattr(service, "_SCRYPT", service.PASSWORD_COST)  # the suite hashes cheaply elsewhere
    stored = service.hash_password("correct horse battery")
    assert stored.startswith("scrypt$16384$8$1$")
    assert "correct horse" not in stored
    assert service.verify_password("correct horse battery", stored)
    assert not service.verify_password("correct horse battery!", stored)


def test_a_hash_made_at_another_cost_still_verifies():
    cheap = service.hash_password("another long password")  # the suite's cost (n=2**10)
    assert cheap.startswith("scrypt$1024$")
    assert service.verify_password("another long password", cheap)
    assert not service.verify_password("", cheap) and not service.verify_password("x", "not-a-hash")
