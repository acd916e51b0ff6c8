"""Model bundles in the MONAI bundle layout, pinned by sha256.

::

    <name>/
      configs/metadata.json   MONAI metadata fields + a "medsight" section (this module)
      models/model.pt         state_dict (torch.save; loaded with weights_only=True)
      models/model.onnx       the same network with outputs (logits, features)
      models/ood.npz          the out-of-distribution detector's statistics
      docs/model_card.md      for people: intended use, data, metrics with CIs, limits
      docs/fairness_audit.*   the latest fairness audit (JSON and HTML), when one was recorded
      docs/saliency_audit.*   the latest saliency audit (JSON and HTML), when one was recorded

Every file under ``models/`` is listed in ``medsight.weights`` with its sha256 and
checked before use: a bundle whose weights differ from what its metadata records is
refused with ``model.weights_mismatch`` (exit 5), never run.

A fairness audit is recorded in ``medsight.audit`` and a saliency audit in
``medsight.saliency_audit`` (:func:`record_audit`): each names the sha256 of the weights
it was computed on, so an audit can never vouch for other weights. The fairness audit
also names :attr:`Bundle.config_sha256`, the digest of every setting that decides the
model's outputs besides its weights (threshold, calibration, preprocessing, conformal
sets, distribution check, input gate): its gaps were measured at one threshold, and say
nothing of another. Recording rewrites ``configs/metadata.json`` only; the weights and
their hashes stay.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from medsight.errors import InvalidBundleError, ModelNotFoundError, OutputError, WeightsMismatchError
from medsight.models.saliency import SaliencySpec

__all__ = [
    "AUDIT_HTML",
    "AUDIT_JSON",
    "SALIENCY_AUDIT_HTML",
    "SALIENCY_AUDIT_JSON",
    "SHIPPED_DIR",
    "Bundle",
    "BundleMetadata",
    "MedsightSection",
    "config_sha256",
    "file_sha256",
    "load_bundle",
    "record_audit",
    "resolve_bundle",
    "shipped_bundles",
]

#: Where the models that ship with medsight live (package data).
SHIPPED_DIR = Path(__file__).parent / "shipped"

METADATA = Path("configs/metadata.json")
MODEL_CARD = Path("docs/model_card.md")
WEIGHTS_DIR = Path("models")
AUDIT_JSON = Path("docs/fairness_audit.json")
AUDIT_HTML = Path("docs/fairness_audit.html")
SALIENCY_AUDIT_JSON = Path("docs/saliency_audit.json")
SALIENCY_AUDIT_HTML = Path("docs/saliency_audit.html")

# The medsight fields that record how a model was made and checked rather than what it
# does; every other field (new ones too) counts towards Bundle.config_sha256.
_RECORD_FIELDS = frozenset({"metrics", "training", "audit", "saliency_audit"})
# Settings added after the digest was defined: left out of it while at their empty
# default, so that every bundle made before them keeps its digest (and its release
# records and audits stay valid); set, they count like any other.
_LATER_SETTINGS = frozenset({"saliency"})


class MedsightSection(BaseModel):
    """What medsight needs to run a model, beyond MONAI's metadata fields."""

    model_config = ConfigDict(extra="forbid")

    task: str
    kind: str = Field(default="classification", description="classification or segmentation (TaskKind)")
    classes: list[str]
    network: dict[str, Any]
    preprocessing: dict[str, Any]
    logit_offset: float = Field(default=0.0, description="added to the logit before the temperature")
    temperature: float = Field(gt=0)
    threshold: float = Field(ge=0, le=1)
    threshold_rule: str
    conformal: dict[str, Any]
    ood: dict[str, Any]
    weights: dict[str, str] = Field(description="file under models/ -> sha256")
    metrics: dict[str, Any] = Field(default_factory=dict)
    training: dict[str, Any] = Field(default_factory=dict)
    segmentation: dict[str, Any] = Field(
        default_factory=dict, description="segmentation bundles: confidence calibration, measurement settings"
    )
    audit: dict[str, Any] = Field(
        default_factory=dict, description="the latest fairness audit's summary (medsight.services.audit); empty: none"
    )
    saliency_audit: dict[str, Any] = Field(
        default_factory=dict,
        description="the latest saliency audit's summary (medsight.services.saliency_audit); empty: none",
    )
    input_gate: dict[str, Any] = Field(
        default_factory=dict,
        description="the input gate every input is checked with (name, version, sha256; medsight.models.kind_gate); "
        "empty: none",
    )
    saliency: dict[str, Any] = Field(
        default_factory=dict,
        description="how heatmaps are made (medsight.models.saliency.SaliencySpec); empty: Grad-CAM",
    )

    @field_validator("saliency")
    @classmethod
    def _known_saliency(cls, value: dict[str, Any]) -> dict[str, Any]:
        return SaliencySpec.from_dict(value).to_dict()  # ValueError: not valid bundle metadata


class BundleMetadata(BaseModel):
    """``configs/metadata.json``: MONAI's bundle metadata fields plus ``medsight``."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    schema_: str = Field(
        default="https://github.com/Project-MONAI/MONAI-extra-test-data/releases/download/0.8.1/meta_schema_20220324.json",
        alias="schema",
    )
    name: str
    version: str
    changelog: dict[str, str] = Field(default_factory=dict)
    monai_version: str = ""
    pytorch_version: str = ""
    numpy_version: str = ""
    required_packages_version: dict[str, str] = Field(default_factory=dict)
    task: str = ""
    description: str = ""
    authors: str = "medsight contributors"
    copyright: str = ""
    data_source: str = ""
    data_type: str = ""
    intended_use: str = ""
    network_data_format: dict[str, Any] = Field(default_factory=dict)
    medsight: MedsightSection


@dataclass(frozen=True)
class Bundle:
    """A verified bundle on disk.

    Attributes:
        path: the bundle folder.
        metadata: its parsed metadata.
    """

    path: Path
    metadata: BundleMetadata

    @property
    def name(self) -> str:
        """The model's name."""
        return self.metadata.name

    @property
    def version(self) -> str:
        """The model's version."""
        return self.metadata.version

    @property
    def sha256(self) -> str:
        """sha256 of ``models/model.pt``, the model's identity in results."""
        return self.metadata.medsight.weights["model.pt"]

    @cached_property  # every result names it: computed once per loaded bundle
    def config_sha256(self) -> str:
        """sha256 of the settings that decide the model's outputs, with the weights' hashes.

        Every field of the ``medsight`` section but the records of how the model was made
        and checked (metrics, training, audits), as canonical JSON (sorted keys, no
        blanks). Moving the threshold, the temperature, the distribution check's cut-offs
        or the input gate changes it; recording an audit does not.
        """
        return config_sha256(self.metadata.medsight)

    def weights_file(self, name: str) -> Path:
        """Path of a file under ``models/``."""
        return self.path / WEIGHTS_DIR / name

    def has(self, name: str) -> bool:
        """Whether the bundle ships ``models/<name>``."""
        return name in self.metadata.medsight.weights

    @property
    def saliency(self) -> SaliencySpec:
        """How this model's heatmaps are made (Grad-CAM unless the bundle names another method)."""
        return SaliencySpec.from_dict(self.metadata.medsight.saliency)

    @property
    def input_gate(self) -> dict[str, str] | None:
        """``{name, version, sha256}`` of the input gate the bundle records, or None (it records none)."""
        gate = self.metadata.medsight.input_gate
        if not gate:
            return None
        return {"name": str(gate.get("name")), "version": str(gate.get("version")), "sha256": str(gate.get("sha256"))}

    def identity(self) -> dict[str, Any]:
        """How results name the model that made them: ``{name, version, sha256}`` (the weights),
        ``input_gate`` (its ``{name, version, sha256}``) where the bundle records one, and
        ``config_sha256`` (:attr:`config_sha256`).

        The gate and the settings are named because they decide which inputs are refused
        and what a score means, and attaching a gate (``medsight models attach-gate``) or
        moving a threshold changes neither the weights nor the version.
        """
        identity: dict[str, Any] = {"name": self.name, "version": self.version, "sha256": self.sha256}
        gate = self.input_gate
        if gate is not None:
            identity["input_gate"] = gate
        identity["config_sha256"] = self.config_sha256
        return identity


def config_sha256(section: MedsightSection) -> str:
    """:attr:`Bundle.config_sha256` of a bundle whose ``medsight`` section is ``section``."""
    fields = section.model_dump(mode="json", exclude=set(_RECORD_FIELDS))
    for name in _LATER_SETTINGS:
        if not fields[name]:
            del fields[name]
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_bundle(path: Path, *, verify: bool = True) -> Bundle:
    """Read and verify the bundle at ``path``.

    Raises:
        ModelNotFoundError: ``path`` is not a folder with ``configs/metadata.json``.
        InvalidBundleError: the metadata does not parse or lists a missing file.
        WeightsMismatchError: a weights file's sha256 differs from the recorded one.
    """
    meta_file = path / METADATA
    if not meta_file.is_file():
        raise ModelNotFoundError(f"{path} is not a model bundle (no {METADATA})")
    try:
        metadata = BundleMetadata.model_validate_json(meta_file.read_bytes())
    except (ValidationError, OSError) as exc:
        raise InvalidBundleError(f"{path.name}: {METADATA} is not valid bundle metadata") from exc
    if "model.pt" not in metadata.medsight.weights:
        raise InvalidBundleError(f"{path.name}: metadata lists no models/model.pt")
    bundle = Bundle(path=path, metadata=metadata)
    if verify:
        for name, expected in metadata.medsight.weights.items():
            file = bundle.weights_file(name)
            if not file.is_file():
                raise InvalidBundleError(f"{path.name}: models/{name} is missing")
            if file_sha256(file) != expected:
                raise WeightsMismatchError(
                    f"{path.name}: models/{name} does not match the sha256 in its metadata; refusing to load it"
                )
    return bundle


def shipped_bundles() -> dict[str, Path]:
    """The bundles that ship with medsight, by name."""
    if not SHIPPED_DIR.is_dir():
        return {}
    return {p.name: p for p in sorted(SHIPPED_DIR.iterdir()) if (p / METADATA).is_file()}


def resolve_bundle(model: str | Path | None, *, default: str | None = None) -> Bundle:
    """Find a bundle: a folder path, else a shipped model's name, else ``default``.

    Raises:
        ModelNotFoundError: nothing matches (the message lists the shipped models).
    """
    choice = str(model) if model is not None else default
    if choice is None:
        raise ModelNotFoundError("no model named and the task has no shipped default")
    as_path = Path(choice)
    if as_path.is_dir():
        return load_bundle(as_path)
    shipped = shipped_bundles()
    if choice in shipped:
        return load_bundle(shipped[choice])
    names = ", ".join(shipped) or "none installed"
    raise ModelNotFoundError(f"no model bundle {choice!r} (a folder, or a shipped model: {names})")


def write_metadata(path: Path, metadata: BundleMetadata) -> None:
    """Write ``configs/metadata.json`` (stable key order, for reproducible bundles)."""
    target = path / METADATA
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(_metadata_text(metadata), encoding="utf-8")


def record_audit(bundle: Bundle, summary: dict[str, Any], field: str = "audit") -> Bundle:
    """Record an audit's ``summary`` in the bundle's metadata (``field``: ``audit`` for the
    fairness audit, ``saliency_audit``, or a setting made after training: ``input_gate``
    for the gate a bundle attaches, ``saliency`` for its heatmaps' method); return the
    bundle re-read.

    The file is replaced whole (temporary file, then rename), so a crash leaves the old
    metadata, never half of it.

    Raises:
        OutputError: the metadata cannot be written.
    """
    if field not in ("audit", "saliency_audit", "input_gate", "saliency"):
        raise ValueError(f"no audit field {field!r} in a bundle's metadata")
    section = bundle.metadata.medsight.model_copy(update={field: summary})
    metadata = bundle.metadata.model_copy(update={"medsight": section})
    target = bundle.path / METADATA
    staging = target.with_name(f".{target.name}.tmp")
    try:
        staging.write_text(_metadata_text(metadata), encoding="utf-8")
        staging.chmod(0o644)
        os.replace(staging, target)
    except OSError as exc:
        staging.unlink(missing_ok=True)
        raise OutputError(f"could not record the audit in {bundle.path.name} ({type(exc).__name__})") from exc
    return load_bundle(bundle.path, verify=False)


def _metadata_text(metadata: BundleMetadata) -> str:
    return json.dumps(metadata.model_dump(by_alias=True, mode="json"), indent=2, sort_keys=False) + "\n"
