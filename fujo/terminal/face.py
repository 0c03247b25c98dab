"""Card checks started at the (simulated) face-recognition card reader (顔認証付きカードリーダー).

The patient places the card, enters the PIN and chooses what to consent to; the result arrives by
itself in ``face/`` as ``OQSsiquc01res_face_<id>.xml`` — no request file is involved. Used by
``fujo terminal card`` and by the web screen's reader button.
"""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

from ..cards.reader import prove
from ..core.dates import now_jst
from . import messages as M
from .agent import Folder
from .client import ServerClient
from .xmlio import UTF8, atomic_write, to_bytes


def face_file_name() -> str:
    return f"{M.SINGLE_CHECK}res_face_{now_jst().strftime('%Y%m%d%H%M%S%f')[:17]}{secrets.token_hex(2)}.xml"


def card_check_to_face(
    client: ServerClient,
    folder: Path,
    card: bytes | Path,
    pin: str,
    consent: dict[str, bool] | None = None,
    encoding: str = UTF8,
    confirmation_date: str | None = None,
) -> Path:
    """Run a card check through the server and write its result into ``face/``; returns the path.
    A wrong PIN or a refused card raises (nothing is written: the reader shows the error)."""
    code = client.facility_code()
    proof = prove(Path(card) if isinstance(card, (str, Path)) else card, pin, client.challenge(), code, consent)
    data = client.check_card(proof.as_dict(), confirmation_date)
    path = Folder(Path(folder)).ensure().face / face_file_name()
    # Real face files carry a random ArbitraryFileIdentifier (e.g. "ArnHCeDfNjMCFzg="): 11 bytes, base64.
    ident = base64.b64encode(secrets.token_bytes(11)).decode()
    atomic_write(path, to_bytes(M.check_response(None, data, encoding, ident), encoding))
    return path
