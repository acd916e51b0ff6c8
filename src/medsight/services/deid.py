"""De-identify DICOM files, folders and zip archives (PS3.15 Basic Profile), or check them.

The library call behind ``medsight deid`` (and the service's de-identified export). The
decisions are :mod:`medsight.privacy`'s; :mod:`medsight.io.dicom.deid` reads and writes.
A key is required: UIDs, patient identifiers and date shifts are keyed HMACs, so the same
key links one patient's files across runs and nothing links back without it.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from medsight.errors import BurnedInTextError, DeidentificationKeyError, InvalidDicomError, UsageError
from medsight.io.dicom.deid import check_member, deidentify_member
from medsight.io.sources import Member, iter_folder, iter_zip, open_path
from medsight.privacy.engine import Finding
from medsight.privacy.profile import Option, Profile, compile_profile
from medsight.privacy.pseudonym import MIN_KEY_BYTES, Pseudonymizer
from medsight.settings import ReadLimits

__all__ = [
    "KEY_ENV",
    "KEY_FILE_ENV",
    "CheckSummary",
    "CheckedFile",
    "DeidSummary",
    "check",
    "deidentify",
    "load_key",
    "make_profile",
]

#: The environment variables that may hold the key (text, at least 16 bytes) or name its file.
KEY_ENV = "MEDSIGHT_DEID_KEY"
KEY_FILE_ENV = "MEDSIGHT_DEID_KEY_FILE"
PROFILES = ("basic",)
Progress = Callable[[int, int], None]


def load_key(key_file: Path | None = None, environ: Mapping[str, str] | None = None) -> bytes:
    """The key from ``key_file``, else ``$MEDSIGHT_DEID_KEY_FILE``'s file, else ``$MEDSIGHT_DEID_KEY``.

    Raises:
        DeidentificationKeyError: neither is given, the file cannot be read, or the key is
            shorter than 16 bytes. The key itself is never shown.
    """
    env = os.environ if environ is None else environ
    if key_file is None and env.get(KEY_FILE_ENV):
        key_file = Path(env[KEY_FILE_ENV])
    if key_file is not None:
        try:
            key = key_file.read_bytes().strip()
        except OSError as exc:
            raise DeidentificationKeyError(f"{key_file}: cannot read the de-identification key file") from exc
    else:
        key = env.get(KEY_ENV, "").strip().encode("utf-8")
    if not key:
        raise DeidentificationKeyError(
            f"no de-identification key: pass --key-file FILE or set {KEY_ENV} (at least {MIN_KEY_BYTES} bytes); "
            "the same key keeps pseudonyms consistent across runs"
        )
    if len(key) < MIN_KEY_BYTES:
        raise DeidentificationKeyError(f"the de-identification key must be at least {MIN_KEY_BYTES} bytes")
    return key


def make_profile(profile: str = "basic", options: frozenset[Option] = frozenset()) -> Profile:
    """The compiled profile by name.

    Raises:
        UsageError: an unknown profile name.
    """
    if profile != "basic":
        raise UsageError(f"unknown de-identification profile {profile!r}; known: {', '.join(PROFILES)}")
    return compile_profile(options)


@dataclass(slots=True)
class DeidSummary:
    """What a run did: files written, cleaned, refused (burned-in text) and skipped (not DICOM)."""

    written: int = 0
    cleaned: int = 0
    bytes_read: int = 0
    refused: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CheckedFile:
    """The findings for one file (never values)."""

    label: str
    findings: tuple[Finding, ...]
    burned_in: str | None


@dataclass(slots=True)
class CheckSummary:
    """Every file checked, and whether anything remains."""

    files: list[CheckedFile] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """True when no file has a finding or a flagged image."""
        return all(not f.findings and f.burned_in is None for f in self.files)


def _members(source: Path, limits: ReadLimits) -> Iterator[tuple[Member, Path]]:
    """Each input file with its path relative to the output root."""
    if source.is_dir():
        for member in iter_folder(source):
            assert member.path is not None
            yield member, member.path.relative_to(source)
    elif source.suffix.lower() == ".zip" or (source.is_file() and zipfile.is_zipfile(source)):
        for member in iter_zip(source, limits):
            yield member, Path(member.label.split("!", 1)[1])
    else:
        yield open_path(source), Path(source.name)


def deidentify(
    source: Path,
    output: Path,
    profile: Profile,
    key: bytes,
    *,
    limits: ReadLimits | None = None,
    progress: Progress | None = None,
) -> DeidSummary:
    """De-identify ``source`` (a file, folder or zip) into ``output``.

    A single file goes to ``output`` (or into it, when it is a folder); a folder or zip
    keeps its layout under the folder ``output``. Images that may carry burned-in text
    are cleaned under Clean Pixel Data, else refused: listed in ``refused``, not written.
    Files that are not DICOM are listed in ``skipped``.

    Raises:
        DeidentificationKeyError: the key is too short.
        UsageError: ``output`` is inside ``source`` or is ``source``.
    """
    pseudonyms = Pseudonymizer(key)
    single = source.is_file() and not (source.suffix.lower() == ".zip" or zipfile.is_zipfile(source))
    _check_paths(source, output)
    members = list(_members(source, limits or ReadLimits()))
    summary = DeidSummary()
    for done, (member, relative) in enumerate(members, start=1):
        target = output / relative.name if single and output.is_dir() else output if single else output / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            result = deidentify_member(member, target, profile, pseudonyms, fsync=single)
        except BurnedInTextError:
            summary.refused.append(member.label)
        except InvalidDicomError:
            if single:
                raise
            summary.skipped.append(member.label)
        else:
            summary.written += 1
            summary.cleaned += result.cleaned
            summary.bytes_read += result.size
        if progress is not None:
            progress(done, len(members))
    if not single and hasattr(os, "sync"):
        os.sync()  # one flush for the whole batch instead of one per file (POSIX)
    return summary


def _check_paths(source: Path, output: Path) -> None:
    src, out = source.resolve(), output.resolve()
    if src == out or (source.is_dir() and src in out.parents):
        raise UsageError("the output must not be the input or inside it")


def check(
    source: Path, profile: Profile, *, limits: ReadLimits | None = None, progress: Progress | None = None
) -> CheckSummary:
    """What in ``source`` the profile says must not remain, file by file, and flagged images."""
    members = list(_members(source, limits or ReadLimits()))
    summary = CheckSummary()
    for done, (member, _) in enumerate(members, start=1):
        try:
            report = check_member(member, profile)
        except InvalidDicomError:
            if len(members) == 1:
                raise
            summary.skipped.append(member.label)
        else:
            summary.files.append(CheckedFile(member.label, report.findings, report.burned_in))
        if progress is not None:
            progress(done, len(members))
    return summary
