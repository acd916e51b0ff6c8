"""Use case: promote a model bundle to released, through the fairness gate.

The smallest honest promotion record: an append-only file, ``<data-dir>/releases.jsonl``,
one line per promotion (model name, version, weights sha256, input gate, the digest of
its settings, task, who, when, the audit it rests on, and any override with its reason).
Nothing is ever rewritten; the latest line for a name is its released version.

A promotion is refused (:class:`~medsight.errors.ReleaseRefusedError`, exit 7) when the
bundle has no recorded fairness audit, when its audit was computed on other weights or
with other settings (the audit names the sha256 of both: an audit at one threshold says
nothing of another), or when the audit fails the configured gate, which is judged
again here from the recorded gaps (the gate may be stricter than when the audit ran).
An explicit override with a reason promotes it anyway, and the line records the override,
its reason, who gave it and what it overrode.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from medsight.audit import DEFAULT_GATE, FairnessGate, judge
from medsight.errors import ReleaseRefusedError, UsageError
from medsight.io.jsonl import append_json_line, read_json_lines
from medsight.models.bundle import Bundle, resolve_bundle
from medsight.services.ledger import record_model_deploy

__all__ = ["RELEASES_FILE", "PromoteRequest", "gate_problems", "promote", "releases"]

#: The registry's file name inside the data folder.
RELEASES_FILE = "releases.jsonl"
# An override must say why in words, not "ok".
_MIN_REASON = 15
# What a release record keeps of the audit it rests on.
_AUDIT_KEYS = ("passed", "audited_at", "split", "data", "model_sha256", "config_sha256")


@dataclass(frozen=True)
class PromoteRequest:
    """What ``medsight models promote`` was asked.

    Attributes:
        name: a shipped model's name or a bundle folder.
        version: the version the caller means to promote (must be the bundle's).
        data_dir: the folder holding :data:`RELEASES_FILE`.
        gate: the gate to judge the recorded audit against.
        override_reason: promote despite a refusal, for this reason (recorded).
        by: who promotes (recorded); default: the operating-system user.
    """

    name: str
    version: str
    data_dir: Path
    gate: FairnessGate = DEFAULT_GATE
    override_reason: str | None = None
    by: str | None = None


def gate_problems(bundle: Bundle, gate: FairnessGate) -> tuple[list[str], list[dict[str, Any]]]:
    """Why ``bundle`` may not be released under ``gate`` (empty: it may), and the gate's checks."""
    audit = bundle.metadata.medsight.audit
    if not audit:
        return ["no fairness audit is recorded in the bundle (run `medsight audit fairness ... --record` first)"], []
    if audit.get("model_sha256") != bundle.sha256:
        return ["the recorded fairness audit was computed on other weights (sha256 differs); audit again"], []
    # Its gaps were measured at the model's threshold, calibration and input gate of the time.
    if "config_sha256" not in audit:
        return [
            "the recorded fairness audit does not name the settings it judged (recorded before they were"
            " pinned); audit again"
        ], []
    if audit["config_sha256"] != bundle.config_sha256:
        return [
            "the recorded fairness audit was computed with other settings (threshold, calibration,"
            " preprocessing, distribution check or input gate changed since); audit again"
        ], []
    try:
        passed, checks = judge(audit.get("gaps", {}), gate)
    except UsageError as exc:
        return [f"the recorded audit cannot be judged by this gate: {exc.message}"], []
    failed = [f"{c['attribute']}: {c['reason']}" for c in checks if c["verdict"] == "fail"]
    return ([] if passed else [f"fairness gate failed ({'; '.join(failed)})"]), checks


def promote(request: PromoteRequest) -> dict[str, Any]:
    """Promote the bundle, or refuse; return the release record (``already_released`` if it was).

    Raises:
        ModelNotFoundError: no such bundle. UsageError: the version is not the bundle's,
            or an override reason is too short.
        WeightsMismatchError: the bundle's weights do not match their sha256.
        ReleaseRefusedError: the gate refuses and no override was given.
        OutputError: the registry cannot be written.
    """
    bundle = resolve_bundle(request.name)
    if bundle.version != request.version:
        raise UsageError(f"{bundle.name} is version {bundle.version}, not {request.version}")
    reason = (request.override_reason or "").strip()
    if request.override_reason is not None and len(reason) < _MIN_REASON:
        raise UsageError(f"an override needs a reason of at least {_MIN_REASON} characters, in words")
    problems, checks = gate_problems(bundle, request.gate)
    if problems and not reason:
        raise ReleaseRefusedError(
            f"{bundle.name} {bundle.version} is not released: {'; '.join(problems)}. "
            "An override needs --override-reason, which is recorded."
        )
    registry = request.data_dir / RELEASES_FILE
    for previous in reversed(read_json_lines(registry)):
        if previous.get("name") == bundle.name:
            keys = ("version", "sha256", "input_gate", "config_sha256")
            now = (bundle.version, bundle.sha256, bundle.input_gate, bundle.config_sha256)
            if tuple(previous.get(key) for key in keys) == now:
                return {**previous, "already_released": True}
            break
    audit = bundle.metadata.medsight.audit
    record: dict[str, Any] = {
        "name": bundle.name,
        "version": bundle.version,
        "sha256": bundle.sha256,
        "input_gate": bundle.input_gate,
        "config_sha256": bundle.config_sha256,
        "task": bundle.metadata.medsight.task,
        "released_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "by": request.by or _user(),
        "gate": {**request.gate.to_dict(), "checks": checks},
        "audit": {k: audit.get(k) for k in _AUDIT_KEYS} if audit else None,
        "override": {"reason": reason, "refusals": problems} if problems else None,
    }
    # The ledger first: a release that cannot be logged is not made (issue 9).
    record_model_deploy(request.data_dir, record["by"], bundle.name, bundle.version, bundle.config_sha256)
    append_json_line(registry, record)
    return {**record, "already_released": False}


def releases(data_dir: Path) -> list[dict[str, Any]]:
    """Every release record, oldest first.

    Raises:
        InputError: the registry cannot be read.
    """
    return read_json_lines(data_dir / RELEASES_FILE)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
