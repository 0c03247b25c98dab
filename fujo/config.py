"""Settings from the environment, read once.

FUJO_DATABASE_URL  SQLAlchemy URL; default: SQLite file ``$FUJO_DATA_DIR/fujo.db``
FUJO_DATA_DIR      where the SQLite file, the card CA and demo card files live (default ./var)
FUJO_READER_URL    the card reader on the desk (`fujo reader`) the browser pages talk to
                   (default http://127.0.0.1:8766); the screens' CSP allows connecting to it
FUJO_AUTH_CACHE_SECONDS  how long a server process keeps an authenticated API token (default 5; on
                   PostgreSQL a revocation reaches every process at once, fujo/orgs/auth_listener.py)
FUJO_RATE_LIMITS   requests a credential a minute by class (docs/API.md)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    database_url: str
    data_dir: Path
    reader_url: str = "http://127.0.0.1:8766"

    @property
    def ca_dir(self) -> Path:
        return self.data_dir / "ca"


def load_settings() -> Settings:
    data_dir = Path(os.environ.get("FUJO_DATA_DIR", "var")).resolve()
    url = os.environ.get("FUJO_DATABASE_URL") or f"sqlite:///{data_dir / 'fujo.db'}"
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    reader_url = os.environ.get("FUJO_READER_URL") or "http://127.0.0.1:8766"
    return Settings(database_url=url, data_dir=data_dir, reader_url=reader_url.rstrip("/"))
