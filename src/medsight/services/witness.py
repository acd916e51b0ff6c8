"""Use case: hand this node's latest signed head to a witness, another medsight node over HTTP.

The witness (``POST /api/v1/ledger/witness`` there) remembers the last head it accepted
from this log's key and takes a new one only with a consistency proof from it. So this
side asks first what it has (``GET /api/v1/ledger/witness/{key_id}``), proves the new
head extends it, and sends both. A refusal (409) means the two disagree about history:
this log was rolled back or rewritten since the witness last saw it.

Standard library HTTP (``urllib``): nothing to install for one request a while.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from medsight.errors import LedgerIntegrityError, OutputError, UsageError
from medsight.ledger import SignedTreeHead
from medsight.services.ledger import LedgerService

__all__ = ["push_to_witness"]

_TIMEOUT_S = 30


def _call(method: str, url: str, token: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:
            answer: dict[str, Any] = json.loads(response.read())
            return answer
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:300].decode(errors="replace")
        if exc.code == 409:
            raise LedgerIntegrityError(f"the witness refuses this log's head: {detail}") from exc
        raise OutputError(f"the witness answered HTTP {exc.code}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise OutputError(f"the witness could not be reached ({type(exc).__name__})") from exc


def push_to_witness(ledger: LedgerService, base_url: str, token: str) -> dict[str, Any]:
    """Send the latest signed head, with its consistency proof from what the witness holds.

    Raises:
        UsageError: not an http(s) URL.
        LedgerIntegrityError: the witness holds a larger tree (a rollback here) or refuses the head.
        OutputError: the witness cannot be reached or fails.
    """
    if not base_url.startswith(("http://", "https://")):
        raise UsageError("the witness is an http(s) URL of another medsight service")
    root = base_url.rstrip("/") + "/api/v1/ledger/witness"
    head = ledger.head()
    held = _call("GET", f"{root}/{ledger.public_key.key_id}", token).get("tree_head")
    last = SignedTreeHead.from_json(held) if held else None
    if last is not None and last.size > head.size:
        raise LedgerIntegrityError(
            f"rolled back: the witness holds a signed tree of {last.size} entries, this log has {head.size}"
        )
    proof = ledger.consistency_proofs(last.size, head.size) if last is not None else []
    body = {
        "public_key": ledger.public_key.raw.hex(),
        "tree_head": head.to_json(),
        "consistency_proof": [p.hex() for p in proof],
    }
    return _call("POST", root, token, body)
