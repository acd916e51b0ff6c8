"""A temporary file that holds what is written to it only encrypted: for exports on their way out.

A de-identified export is built as a zip on disk (it can be larger than memory) and then
streamed to the client. Between the two it rests in a temporary file; :class:`SealedSpool`
keeps it encrypted there under a key that exists only in this process's memory, so a
crash, a full-disk snapshot or a forgotten temp folder leaves ciphertext nobody can open,
not a readable export. No master key is needed: the key dies with the spool.

The plain bytes are cut into 1 MiB chunks, each sealed with AES-256-GCM; the nonce is the
chunk's index and the last chunk is marked in its associated data, so chunks that were
swapped, dropped or cut off at the end fail to open (:class:`StoredObjectCorruptError`).
The spool is write-once: ``write``s, then ``close``, then one pass of :meth:`chunks`.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterator
from contextlib import suppress
from types import TracebackType

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from medsight.errors import StoredObjectCorruptError

__all__ = ["SealedSpool"]

_CHUNK = 1 << 20


class SealedSpool(io.RawIOBase):
    """A write-only, non-seekable binary stream into an encrypted temporary file.

    ``zipfile.ZipFile(spool, "w")`` writes into it (it asks for ``tell`` and, finding no
    ``seek``, uses data descriptors). After :meth:`close`, :attr:`size` is the plain
    length and :meth:`chunks` yields the plain bytes, removing the file at the end.
    """

    def __init__(self, directory: str | None = None) -> None:
        super().__init__()
        fd, self._name = tempfile.mkstemp(prefix="medsight-spool-", suffix=".sealed", dir=directory)
        self._file = os.fdopen(fd, "wb")
        self._aead = AESGCM(AESGCM.generate_key(bit_length=256))
        self._buffer = bytearray()
        self._lengths: list[int] = []  # sealed length of each chunk, in order
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        if self._file.closed:
            raise ValueError("write to a closed spool")
        view = memoryview(data).cast("B")
        self._buffer += view
        self.size += len(view)
        while len(self._buffer) >= _CHUNK:
            self._seal(bytes(self._buffer[:_CHUNK]), final=False)
            del self._buffer[:_CHUNK]
        return len(view)

    def tell(self) -> int:
        return self.size

    def close(self) -> None:
        """Seal the last chunk and close the file (the plain bytes can now be read once)."""
        if not self._file.closed:
            self._seal(bytes(self._buffer), final=True)
            self._buffer.clear()
            self._file.close()
        super().close()

    def chunks(self) -> Iterator[bytes]:
        """The plain bytes, chunk by chunk, each authenticated before it is given; then the file goes.

        Raises:
            StoredObjectCorruptError: the file was changed, cut or reordered on disk.
        """
        if not self._file.closed:
            raise ValueError("close the spool before reading it")
        try:
            with open(self._name, "rb") as stream:
                last = len(self._lengths) - 1
                for index, length in enumerate(self._lengths):
                    sealed = stream.read(length)
                    try:
                        yield self._aead.decrypt(_nonce(index), sealed, _aad(index == last))
                    except InvalidTag:
                        raise StoredObjectCorruptError("the export's temporary file was altered") from None
        finally:
            self.discard()

    def discard(self) -> None:
        """Remove the file (also what :meth:`chunks` does when it ends)."""
        with suppress(OSError):
            self._file.close()
        with suppress(FileNotFoundError):
            os.unlink(self._name)

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if kind is not None:
            self.discard()
        else:
            self.close()

    def _seal(self, plain: bytes, *, final: bool) -> None:
        sealed = self._aead.encrypt(_nonce(len(self._lengths)), plain, _aad(final))
        self._file.write(sealed)
        self._lengths.append(len(sealed))


def _nonce(index: int) -> bytes:
    return index.to_bytes(12, "big")


def _aad(final: bool) -> bytes:
    return b"medsight-spool\x00" + (b"\x01" if final else b"\x00")
