"""A second server host with another card CA or 個人番号 key refuses to start (fujo.cards.host_secrets):
otherwise it would issue cards no other host accepts and hash 個人番号 so that 初回ひも付け never matches."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from fujo.api.app import create_app
from fujo.cards.ca import CardAuthority
from fujo.cards.host_secrets import HostSecretsMismatch, check_host_secrets
from fujo.config import Settings
from fujo.db import schema as s


def recorded(db) -> dict[str, str]:
    with db.read() as conn:
        return {r.name: r.value for r in conn.execute(select(s.installation.c.name, s.installation.c.value))}


def test_the_first_host_records_its_fingerprints_and_the_same_secrets_start_again(db, tmp_path):
    ca = CardAuthority.load_or_create(tmp_path / "host1" / "ca")
    check_host_secrets(db, ca)
    assert recorded(db) == ca.fingerprints()
    assert set(recorded(db)) == {"card_ca", "number_key"}
    # the key itself is not what is stored
    assert all(ca._number_key.hex() not in v for v in recorded(db).values())
    # a second host given a copy of the first's folder starts
    shutil.copytree(tmp_path / "host1" / "ca", tmp_path / "host2" / "ca")
    check_host_secrets(db, CardAuthority.load_or_create(tmp_path / "host2" / "ca"))


def test_a_host_with_its_own_ca_or_number_key_refuses_to_start(db, tmp_path):
    first = CardAuthority.load_or_create(tmp_path / "host1" / "ca")
    check_host_secrets(db, first)
    with pytest.raises(HostSecretsMismatch) as refused:  # a host that made its own at first start
        check_host_secrets(db, CardAuthority.load_or_create(tmp_path / "host2" / "ca"))
    assert "カードの認証局" in str(refused.value) and "個人番号の鍵" in str(refused.value)
    # the CA copied but not number.key: the 個人番号 key is named alone
    shutil.copytree(tmp_path / "host1" / "ca", tmp_path / "host3" / "ca")
    (tmp_path / "host3" / "ca" / "number.key").unlink()
    with pytest.raises(HostSecretsMismatch) as refused:
        check_host_secrets(db, CardAuthority.load_or_create(tmp_path / "host3" / "ca"))
    assert "個人番号の鍵" in str(refused.value) and "カードの認証局" not in str(refused.value)
    assert recorded(db) == first.fingerprints()  # the database's record is never overwritten


def test_the_server_does_not_start_with_other_secrets(db, ca, tmp_path):
    with TestClient(create_app(Settings(database_url=db.url, data_dir=tmp_path / "a"), db, ca)) as c:
        assert c.get("/api/v1/health").status_code == 200
    other = CardAuthority.load_or_create(tmp_path / "b" / "ca")
    app = create_app(Settings(database_url=db.url, data_dir=tmp_path / "b"), db, other)
    with pytest.raises(HostSecretsMismatch, match="ca"), TestClient(app):
        pass


def _fingerprints_of(ca_dir: str, start) -> dict[str, str]:
    start.wait()  # every process asks at the same moment, as the workers of one server do
    return CardAuthority.load_or_create(Path(ca_dir)).fingerprints()


def test_workers_starting_at_once_on_a_fresh_folder_share_one_authority(tmp_path):
    """`fujo serve --workers N` on a fresh data folder: every worker makes or loads the card authority
    at the same moment; without the folder's lock each made its own, and the one whose files lost
    failed the host-secrets check, which stopped the server (seen in the PostgreSQL benchmark)."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    start = ctx.Manager().Barrier(4)
    with ctx.Pool(4) as pool:
        prints = pool.starmap(_fingerprints_of, [(str(tmp_path / "ca"), start)] * 4)
    assert len({tuple(sorted(p.items())) for p in prints}) == 1
    assert prints[0] == CardAuthority.load_or_create(tmp_path / "ca").fingerprints()
