"""Settings from the environment, read once.

FUJO_DATABASE_URL  SQLAlchemy URL; default: SQLite file ``$FUJO_DATA_DIR/fujo.db``
FUJO_DATA_DIR      where the SQLite file, the card CA and demo card files live (default ./var)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    database_url: str
    data_dir: Path

    @property
    def ca_dir(self) -> Path:
        return self.data_dir / "ca"


def load_settings() -> Settings:
    data_dir = Path(os.environ.get("FUJO_DATA_DIR", "var")).resolve()
    url = os.environ.get("FUJO_DATABASE_URL") or f"sqlite:///{data_dir / 'fujo.db'}"
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return Settings(database_url=url, data_dir=data_dir)
