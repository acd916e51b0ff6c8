"""Ledger receipts on every response whose request recorded ledger entries.

Bodies stay as they were (DICOM JSON, images, zips): the receipt rides in headers,

* ``Medsight-Ledger-Entries``: the leaf indexes the request created (``12`` or ``12-40``,
  comma-separated, at most 50 items);
* ``Medsight-Ledger-Receipt``: the receipt of the last of them, as base64url of its JSON
  (leaf index, tree size, entry, inclusion proof, signed tree head), which
  ``python -m medsight.ledger.verify_receipt`` checks offline.

The receipts of the others are at ``GET /api/v1/ledger/receipts/{index}``.
"""

from __future__ import annotations

import base64
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from medsight.ledger import Receipt
from medsight.services.ledger import collect_receipts

__all__ = ["ENTRIES_HEADER", "RECEIPT_HEADER", "LedgerReceiptMiddleware", "decode_receipt_header"]

ENTRIES_HEADER = "Medsight-Ledger-Entries"
RECEIPT_HEADER = "Medsight-Ledger-Receipt"
_MAX_ITEMS = 50


def _ranges(indexes: list[int]) -> str:
    items: list[str] = []
    start = previous = indexes[0]
    for index in [*indexes[1:], None]:
        if index is not None and index == previous + 1:
            previous = index
            continue
        items.append(str(start) if start == previous else f"{start}-{previous}")
        if index is not None:
            start = previous = index
    return ",".join(items[:_MAX_ITEMS])


def encode_receipt(receipt: Receipt) -> str:
    raw = json.dumps(receipt.to_json(), separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_receipt_header(value: str) -> Receipt:
    """The receipt in a ``Medsight-Ledger-Receipt`` header (clients, tests)."""
    raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    return Receipt.from_json(json.loads(raw))


class LedgerReceiptMiddleware:
    """Pure ASGI middleware: collects the request's receipts, adds them when the response starts."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with collect_receipts() as receipts:

            async def send_with_receipt(message: Message) -> None:
                if message["type"] == "http.response.start" and receipts:
                    headers = list(message.get("headers", []))
                    indexes = sorted({r.index for r in receipts})
                    headers.append((ENTRIES_HEADER.lower().encode(), _ranges(indexes).encode()))
                    headers.append((RECEIPT_HEADER.lower().encode(), encode_receipt(receipts[-1]).encode()))
                    message = {**message, "headers": headers}
                await send(message)

            await self.app(scope, receive, send_with_receipt)
