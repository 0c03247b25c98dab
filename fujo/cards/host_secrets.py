"""Every server host of one database uses the same card CA and the same 個人番号 key.

Both live in files of the host (``$FUJO_DATA_DIR/ca``), created at the first start when missing. On a
second host that was not given the first host's files that would silently make a CA and a key of its
own: cards it issues fail on every other host, and 初回ひも付け no longer matches the 個人番号 hashes
stored by the others. So the first server to start records the fingerprints of its CA and key in the
database (table ``installation``), and a server whose fingerprints differ refuses to start, saying
which files to copy (docs/ARCHITECTURE.md, "What each server process keeps")."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..db import schema as s
from ..db.database import Database
from .ca import CardAuthority

LABELS = {"card_ca": "カードの認証局（ca.key.pem, ca.cert.pem）", "number_key": "個人番号の鍵（number.key）"}


class HostSecretsMismatch(RuntimeError):
    """This host's card CA or 個人番号 key is not the one the database was set up with."""


def _record(db: Database, mine: dict[str, str]) -> dict[str, str]:
    """The fingerprints the database knows, after adding those of ``mine`` it did not know yet."""
    with db.write() as conn:
        known = {str(r.name): str(r.value) for r in conn.execute(select(s.installation.c.name, s.installation.c.value))}
        missing = {k: v for k, v in mine.items() if k not in known}
        if missing:
            now = db.now()
            conn.execute(s.installation.insert(), [{"name": k, "value": v, "set_at": now} for k, v in missing.items()])
    return {**missing, **known}


def check_host_secrets(db: Database, ca: CardAuthority, ca_dir: str = "$FUJO_DATA_DIR/ca") -> None:
    """Record this host's fingerprints if the database has none yet; refuse (HostSecretsMismatch,
    naming what differs) if it has others."""
    mine = ca.fingerprints()
    try:
        known = _record(db, mine)
    except IntegrityError:  # another host recorded its own at the same moment: compare with those
        known = _record(db, mine)
    differ = [k for k, v in mine.items() if k in known and known[k] != v]
    if differ:
        what = "、".join(LABELS[k] for k in differ)
        raise HostSecretsMismatch(
            f"このサーバーの{what}は、このデータベースを使う他のサーバーのものと違います。"
            f"最初のサーバーの {ca_dir} をこのサーバーにコピーしてから起動してください。 / "
            f"This host's {', '.join(differ)} differ from those this database was set up with: copy the first "
            f"host's {ca_dir} folder here before starting."
        )
