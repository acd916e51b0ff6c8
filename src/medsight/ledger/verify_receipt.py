"""Standalone receipt verifier: ``python -m medsight.ledger.verify_receipt --public-key KEY RECEIPT...``.

Needs only the log's public key (64 hex digits, the ``.pub`` file ``medsight ledger
keygen`` writes) and receipts as the service returned them; no database, no
configuration, nothing of medsight beyond this package. It checks each receipt's
signature and inclusion proof, and that no two receipts show different roots for one
tree size (a fork shown to different clients). Exit 0 when all hold, 5 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from medsight.ledger.receipt import Receipt, ReceiptError, check_receipt
from medsight.ledger.treehead import KeyFileError, PublicKey

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m medsight.ledger.verify_receipt", description="Check ledger receipts offline."
    )
    parser.add_argument("--public-key", required=True, type=Path, help="file with the log's public key in hex")
    parser.add_argument("receipts", nargs="+", type=Path, help="receipt JSON files (a receipt, or {'receipt': ...})")
    args = parser.parse_args(argv)
    try:
        key = PublicKey.from_hex(args.public_key.read_text())
    except (OSError, KeyFileError) as exc:
        print(f"error[ledger.key]: {exc}", file=sys.stderr)
        return 2
    roots: dict[int, bytes] = {}
    failed = 0
    for path in args.receipts:
        try:
            data = json.loads(path.read_text())
            receipt = Receipt.from_json(data.get("receipt", data) if isinstance(data, dict) else data)
            entry = check_receipt(receipt, key)
            if roots.setdefault(receipt.head.size, receipt.head.root) != receipt.head.root:
                raise ReceiptError(f"another receipt shows a different root for tree size {receipt.head.size}")
        except (OSError, json.JSONDecodeError, ReceiptError, AttributeError) as exc:
            failed += 1
            print(f"{path.name}: FAILED: {exc}")
            continue
        print(f"{path.name}: ok: entry {receipt.index} ({entry.event.value}) in the signed tree of {receipt.head.size}")
    return 5 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
