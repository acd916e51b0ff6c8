"""The one exception tree of medsight.

Every failure that a user can cause or meet surfaces as a :class:`MedsightError`
with a stable, dotted ``code``. Adapters (``medsight.io``) translate third-party
errors (pydicom, nibabel, Pillow, OS) here, at exactly one boundary, so nothing
above them ever sees a foreign exception. Messages never contain patient data:
they name files, tags and sizes, never values read from a patient's record.

The tree, with each class's code and CLI exit code::

    * MedsightError                      medsight.error            1
      + UsageError                       usage.invalid             2
      + InputError                       input.invalid             3
        - FileNotFoundInputError         input.not_found           3
        - UnsupportedFormatError         input.unsupported_format  3
        - InvalidDicomError              input.invalid_dicom       3
          · MissingPixelDataError        input.no_pixel_data       3
          · UnsupportedTransferSyntaxError input.unsupported_transfer_syntax 3
          · PixelDecodeError             input.pixel_decode        3
        - InvalidImageError              input.invalid_image       3
        - ResourceLimitError             input.resource_limit      3
        - ArchiveError                   input.invalid_archive     3
        - NoImagesFoundError             input.no_images           3
        - SeriesGeometryError            input.series_geometry     3
        - InvalidDatasetError            input.invalid_dataset     3
        - StoredInstanceNotFoundError    store.not_found           3
        - UnknownResourceError           resource.not_found        3
        - StreamMessageError             stream.malformed_message  3
        - ProfileError                   protocol.invalid_profile  3
      + ModelError                       model.error               1
        - ModelNotFoundError             model.not_found           2
        - InvalidBundleError             model.invalid_bundle      1
        - ReleaseRefusedError            model.release_refused     7
        - UnreleasedModelError           model.unreleased          7
      + PrivacyError                     privacy.error             4
        - DeidentificationKeyError       privacy.no_key            4
        - BurnedInTextError              privacy.burned_in_text    4
        - ResidualPhiError               privacy.residual_phi      4
        - EncryptionKeyError             privacy.master_key        4
      + IntegrityError                   integrity.error           5
        - WeightsMismatchError           model.weights_mismatch    5
        - StoredObjectCorruptError       store.object_corrupt      5
        - LedgerIntegrityError           ledger.integrity          5
      + OutputError                      output.error              1
      + AccessError                      access.error              6
        - AuthenticationError            access.unauthenticated    6
        - PermissionDeniedError          access.forbidden          6
          · UnknownDeviceError           stream.unknown_device     6
      + StreamBusyError                  stream.busy               1
      + KnowledgeBaseError               protocol.invalid_rules    1

The exit codes follow the table in ``docs/architecture.md``: 2 usage, 3 input,
4 privacy, 5 integrity, 6 access, 7 release gate, 1 anything else. The service maps the same classes
to HTTP statuses in one table (``medsight.server.problems.HTTP_STATUS``). :data:`EXIT_CODES` is that table.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "EXIT_CODES",
    "AccessError",
    "ArchiveError",
    "AuthenticationError",
    "BurnedInTextError",
    "DeidentificationKeyError",
    "EncryptionKeyError",
    "FileNotFoundInputError",
    "InputError",
    "IntegrityError",
    "InvalidBundleError",
    "InvalidDatasetError",
    "InvalidDicomError",
    "InvalidImageError",
    "KnowledgeBaseError",
    "LedgerIntegrityError",
    "MedsightError",
    "MissingPixelDataError",
    "ModelError",
    "ModelNotFoundError",
    "NoImagesFoundError",
    "OutputError",
    "PermissionDeniedError",
    "PixelDecodeError",
    "PrivacyError",
    "ProfileError",
    "ReleaseRefusedError",
    "ResidualPhiError",
    "ResourceLimitError",
    "SeriesGeometryError",
    "StoredInstanceNotFoundError",
    "StoredObjectCorruptError",
    "StreamBusyError",
    "StreamMessageError",
    "UnknownDeviceError",
    "UnknownResourceError",
    "UnreleasedModelError",
    "UnsupportedFormatError",
    "UnsupportedTransferSyntaxError",
    "UsageError",
    "WeightsMismatchError",
    "exit_code_for",
]


class MedsightError(Exception):
    """Base of every error medsight raises on purpose.

    Attributes:
        code: stable machine-readable identifier, part of the public contract.
        message: one line for a person; never patient data.
    """

    code: ClassVar[str] = "medsight.error"

    def __init__(self, message: str) -> None:
        # One line, always: the CLI prints it after ``error[code]:``.
        self.message = " ".join(message.split())
        super().__init__(self.message)


class UsageError(MedsightError):
    """The command or call was used wrongly (bad option, bad combination)."""

    code = "usage.invalid"


class InputError(MedsightError):
    """The input is not what it claims to be, or cannot be read safely."""

    code = "input.invalid"


class FileNotFoundInputError(InputError):
    """The path given does not exist or cannot be opened."""

    code = "input.not_found"


class UnsupportedFormatError(InputError):
    """The file is of a format medsight does not read (or none at all)."""

    code = "input.unsupported_format"


class InvalidDicomError(InputError):
    """The file claims to be DICOM but cannot be parsed as such."""

    code = "input.invalid_dicom"


class MissingPixelDataError(InvalidDicomError):
    """A DICOM object without Pixel Data (a report, a plan) where an image was needed."""

    code = "input.no_pixel_data"


class UnsupportedTransferSyntaxError(InvalidDicomError):
    """The pixel data is encoded in a transfer syntax no installed decoder handles."""

    code = "input.unsupported_transfer_syntax"


class PixelDecodeError(InvalidDicomError):
    """The pixel data is present but does not decode (truncated, corrupt, inconsistent)."""

    code = "input.pixel_decode"


class InvalidImageError(InputError):
    """A NIfTI, PNG, JPEG or TIFF file that cannot be decoded."""

    code = "input.invalid_image"


class ResourceLimitError(InputError):
    """The input would need more memory than the configured limit (or is a zip bomb)."""

    code = "input.resource_limit"


class ArchiveError(InputError):
    """A zip archive that is corrupt or unsafe (path traversal, bomb)."""

    code = "input.invalid_archive"


class NoImagesFoundError(InputError):
    """A folder, DICOMDIR or archive that holds no readable image."""

    code = "input.no_images"


class SeriesGeometryError(InputError):
    """Slices that cannot be assembled into one volume (mixed sizes, orientations)."""

    code = "input.series_geometry"


class InvalidDatasetError(InputError):
    """A training or evaluation dataset is not in a layout medsight reads, or lacks a split."""

    code = "input.invalid_dataset"


class StoredInstanceNotFoundError(InputError):
    """No instance (or series, study) with the UID asked for is in the store."""

    code = "store.not_found"


class UnknownResourceError(InputError):
    """No job, token, user or report with the identifier asked for."""

    code = "resource.not_found"


class ModelError(MedsightError):
    """A model could not be found, loaded or run."""

    code = "model.error"


class ModelNotFoundError(ModelError):
    """No model by that name or at that path (a usage problem: exit 2)."""

    code = "model.not_found"


class InvalidBundleError(ModelError):
    """A model bundle is incomplete or its metadata does not parse."""

    code = "model.invalid_bundle"


class ReleaseRefusedError(ModelError):
    """The release gate refuses to promote a model (no audit, an audit of other weights, or a failed gate)."""

    code = "model.release_refused"


class UnreleasedModelError(ModelError):
    """A service that runs released models only was asked to run one never promoted through the gate."""

    code = "model.unreleased"


class PrivacyError(MedsightError):
    """An operation would expose or mishandle protected health information."""

    code = "privacy.error"


class DeidentificationKeyError(PrivacyError):
    """No de-identification key (file or environment), or one too short to be secret."""

    code = "privacy.no_key"


class BurnedInTextError(PrivacyError):
    """An image that may carry burned-in text was not, or could not be, cleaned: not exported."""

    code = "privacy.burned_in_text"


class ResidualPhiError(PrivacyError):
    """A de-identification check found attributes or images the profile says must not remain."""

    code = "privacy.residual_phi"


class EncryptionKeyError(PrivacyError):
    """The master key for encryption at rest is missing, malformed, or not the store's key."""

    code = "privacy.master_key"


class IntegrityError(MedsightError):
    """Stored data does not match its recorded hash, signature or proof."""

    code = "integrity.error"


class WeightsMismatchError(IntegrityError):
    """A model's weights file does not match the sha256 its bundle records."""

    code = "model.weights_mismatch"


class StoredObjectCorruptError(IntegrityError):
    """A stored DICOM object is missing or its bytes no longer match their sha256."""

    code = "store.object_corrupt"


class LedgerIntegrityError(IntegrityError):
    """The ledger does not verify (an entry, node or signature changed, history rolled back), or cannot record."""

    code = "ledger.integrity"


class OutputError(MedsightError):
    """A result could not be written (no space, no permission, bad destination)."""

    code = "output.error"


class AccessError(MedsightError):
    """A request without valid credentials, or with credentials that do not allow it."""

    code = "access.error"


class AuthenticationError(AccessError):
    """No bearer token, or one that is unknown, expired or revoked (HTTP 401)."""

    code = "access.unauthenticated"


class PermissionDeniedError(AccessError):
    """A valid token whose role does not allow the action (HTTP 403)."""

    code = "access.forbidden"


class StreamMessageError(InputError):
    """A live-stream message that is not a valid device message (bad framing, header or pixels)."""

    code = "stream.malformed_message"


class UnknownDeviceError(PermissionDeniedError):
    """A live-stream message from a device other than the one the token was issued to."""

    code = "stream.unknown_device"


class StreamBusyError(MedsightError):
    """The service already serves as many live streams as it allows; try again later."""

    code = "stream.busy"


class ProfileError(InputError):
    """A patient profile for protocol recommendation that is invalid or contradicts itself.

    The message names the field (``smoking.pack_years``, ``findings.nodule_size_mm``) and
    why it is wrong, never its value: a profile is patient data.
    """

    code = "protocol.invalid_profile"


class KnowledgeBaseError(MedsightError):
    """The packaged protocol rules do not load or do not validate against their schema (a bug)."""

    code = "protocol.invalid_rules"


#: Exit code of the CLI for each error class; the most specific class listed wins.
EXIT_CODES: dict[type[MedsightError], int] = {
    MedsightError: 1,
    UsageError: 2,
    InputError: 3,
    FileNotFoundInputError: 3,
    UnsupportedFormatError: 3,
    InvalidDicomError: 3,
    MissingPixelDataError: 3,
    UnsupportedTransferSyntaxError: 3,
    PixelDecodeError: 3,
    InvalidImageError: 3,
    ResourceLimitError: 3,
    ArchiveError: 3,
    NoImagesFoundError: 3,
    SeriesGeometryError: 3,
    InvalidDatasetError: 3,
    StoredInstanceNotFoundError: 3,
    UnknownResourceError: 3,
    ModelError: 1,
    ModelNotFoundError: 2,
    InvalidBundleError: 1,
    ReleaseRefusedError: 7,
    UnreleasedModelError: 7,
    PrivacyError: 4,
    DeidentificationKeyError: 4,
    BurnedInTextError: 4,
    ResidualPhiError: 4,
    EncryptionKeyError: 4,
    IntegrityError: 5,
    WeightsMismatchError: 5,
    StoredObjectCorruptError: 5,
    LedgerIntegrityError: 5,
    OutputError: 1,
    AccessError: 6,
    AuthenticationError: 6,
    PermissionDeniedError: 6,
    StreamMessageError: 3,
    UnknownDeviceError: 6,
    StreamBusyError: 1,
    ProfileError: 3,
    KnowledgeBaseError: 1,
}


def exit_code_for(error: MedsightError) -> int:
    """Return the CLI exit code for ``error``: its own class's, else its nearest ancestor's."""
    for cls in type(error).__mro__:
        if cls in EXIT_CODES:
            return EXIT_CODES[cls]
    return 1
