"""Request body limits (answered 413 before the body is read whole).

FastAPI's own ``max_body_size`` applies them: the application's default below, and a route that
needs more or less says so in its decorator (the most specific limit wins)."""

from __future__ import annotations

KIB, MIB = 1024, 1024 * 1024

DEFAULT = 1 * MIB  # any request body, forms and JSON alike
CHECK = 16 * KIB  # one check: a few hundred bytes of numbers, or a card's certificate and signature
CHECK_BATCH = 512 * KIB  # up to 1,000 checks of ~300 bytes
IMPORT = 20 * MIB  # a CSV import's file (≈ 100,000 tickets), counted while it streams to disk; larger: the CLI
IMPORT_ENVELOPE = 64 * KIB  # the multipart form around an import's file (boundaries, part headers)
