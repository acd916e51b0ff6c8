"""A verifiable ledger: an append-only Merkle log in the manner of RFC 9162 and Trillian (L1).

Pure Python and ``cryptography`` only: no numpy, no database, no web framework. The
service's SQL storage (:mod:`medsight.store.ledger`) and use cases
(:mod:`medsight.services.ledger`) sit above it. Read in this order:

* :mod:`~medsight.ledger.hashing`: RFC 9162 leaf/node hashing, perfect subtrees
* :mod:`~medsight.ledger.proofs`: inclusion and consistency proofs, and their verification
* :mod:`~medsight.ledger.entry`: the canonical entry (event, actor, object, time, model)
* :mod:`~medsight.ledger.treehead`: signed tree heads, Ed25519 keys
* :mod:`~medsight.ledger.storage`: the storage contract, the in-memory backend
* :mod:`~medsight.ledger.log`: the sequencer (append, sign, prove)
* :mod:`~medsight.ledger.verify`: full recomputation of a stored log
* :mod:`~medsight.ledger.receipt`, :mod:`~medsight.ledger.verify_receipt`: receipts, checked offline
* :mod:`~medsight.ledger.witness`: heads remembered elsewhere
"""

from medsight.ledger.entry import Entry, EntryFormatError, EventType
from medsight.ledger.log import AppendResult, Log, LogStateError
from medsight.ledger.receipt import Receipt, ReceiptError, check_receipt
from medsight.ledger.storage import LedgerStorage, MemoryStorage
from medsight.ledger.treehead import KeyFileError, PublicKey, SignedTreeHead, Signer, TreeHead, generate_key
from medsight.ledger.verify import VerifyReport, verify_log
from medsight.ledger.witness import FileWitness, WitnessError

__all__ = [
    "AppendResult",
    "Entry",
    "EntryFormatError",
    "EventType",
    "FileWitness",
    "KeyFileError",
    "LedgerStorage",
    "Log",
    "LogStateError",
    "MemoryStorage",
    "PublicKey",
    "Receipt",
    "ReceiptError",
    "SignedTreeHead",
    "Signer",
    "TreeHead",
    "VerifyReport",
    "WitnessError",
    "check_receipt",
    "generate_key",
    "verify_log",
]
