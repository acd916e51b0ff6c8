"""``medsight models``: the models this installation knows, and promoting one through the release gate."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Annotated, Any

import typer

from medsight.audit import DEFAULT_GATE
from medsight.cli._options import OcclusionPatchOption, OcclusionStrideOption, saliency_spec
from medsight.cli._progress import progress_bar, stdout_console
from medsight.cli._service import DataDirOption, service_settings
from medsight.cli.audit import DEFAULT_GATE_ATTRIBUTES, GateAttributesOption, MaxEodOption, MinGroupOption, make_gate
from medsight.models.bundle import Bundle, load_bundle, shipped_bundles
from medsight.models.saliency import SaliencySpec
from medsight.services.release import PromoteRequest, gate_problems, promote, releases

__all__ = ["models_app"]

models_app = typer.Typer(help="Shipped models, their audits, and releases.", no_args_is_help=True)


@models_app.command("promote")
def promote_cmd(
    name: Annotated[str, typer.Argument(help="A shipped model's name, or a bundle folder.")],
    version: Annotated[str, typer.Argument(help="The version to promote (must be the bundle's).")],
    override_reason: Annotated[
        str | None,
        typer.Option("--override-reason", help="Promote despite the gate's refusal, for this reason (recorded)."),
    ] = None,
    by: Annotated[str | None, typer.Option("--by", help="Who promotes (default: this system user).")] = None,
    gate_attributes: GateAttributesOption = DEFAULT_GATE_ATTRIBUTES,
    max_eod: MaxEodOption = DEFAULT_GATE.max_equalized_odds_difference,
    min_group_n: MinGroupOption = DEFAULT_GATE.min_group_n,
    data_dir: DataDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the release record as JSON.")] = False,
) -> None:
    """Release a model: only when its recorded fairness audit passes the gate.

    The bundle must carry a fairness audit of its own weights (`medsight audit fairness
    --record`), and that audit must pass the gate (default: equalized-odds difference
    across sex <= 0.10 where both groups have n >= 30). Otherwise the promotion is refused
    (exit 7) unless --override-reason is given, which is recorded with the refusal it
    overrode. Releases are appended to <data-dir>/releases.jsonl.
    """
    request = PromoteRequest(
        name=name,
        version=version,
        data_dir=service_settings(data_dir).data_dir,
        gate=make_gate(gate_attributes, max_eod, min_group_n),
        override_reason=override_reason,
        by=by,
    )
    record = promote(request)
    if as_json:
        typer.echo(json.dumps(record, indent=2))
        return
    state = "was already released" if record["already_released"] else "released"
    override = f" (override: {record['override']['reason']})" if record.get("override") else ""
    typer.echo(f"{record['name']} {record['version']} {state}, sha256 {record['sha256'][:12]}{override}")


@models_app.command("list")
def list_cmd(
    data_dir: DataDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
) -> None:
    """The shipped models, their fairness and saliency audit verdicts, and what is released."""
    released = {r["name"]: r for r in releases(service_settings(data_dir).data_dir)}
    rows: list[dict[str, Any]] = []
    for name, path in shipped_bundles().items():
        rows.append(_row(name, path, released.get(name)))
    for name, record in released.items():
        if name not in shipped_bundles():
            rows.append(
                {
                    "name": name,
                    "version": None,
                    "task": record.get("task"),
                    "networks": None,
                    "audit": None,
                    "saliency_audit": None,
                    "heatmaps": None,
                    "input_gate": None,
                    "config_sha256": record.get("config_sha256"),
                    "released": record,
                }
            )
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    from rich.table import Table

    table = Table(title_justify="left")
    headings = ("model", "version", "task", "networks", "fairness audit", "saliency audit", "input gate", "released")
    for heading in headings:
        table.add_column(heading)
    for row in rows:
        release = row["released"]
        shown = f"{release['version']} ({'override' if release.get('override') else 'gate passed'})" if release else ""
        networks = "" if row["networks"] is None else str(row["networks"])
        cells = (row["name"], row["version"] or "", row["task"] or "", networks, row["audit"] or "")
        saliency = f"{row['saliency_audit']} ({row['heatmaps']})" if row["heatmaps"] else ""
        table.add_row(*cells, saliency, row["input_gate"] or "", shown)
    stdout_console().print(table)


def _row(name: str, path: Path, release: dict[str, Any] | None) -> dict[str, Any]:
    bundle = load_bundle(path, verify=False)
    audit = bundle.metadata.medsight.audit
    if not audit:
        verdict = "none recorded"
    else:
        problems, _checks = gate_problems(bundle, DEFAULT_GATE)
        verdict = "passes the gate" if not problems else problems[0]
    return {
        "name": name,
        "version": bundle.version,
        "task": bundle.metadata.medsight.task,
        # An ensemble runs that many networks per image: its cost, and its member agreement.
        "networks": int(bundle.metadata.medsight.network.get("members", 1)),
        "audit": verdict,
        "saliency_audit": _saliency_verdict(bundle),
        "heatmaps": bundle.saliency.method if bundle.metadata.medsight.kind == "classification" else None,
        "input_gate": _gate_name(bundle.metadata.medsight.input_gate),
        # What release records, fairness audits and the ledger name: match them by it.
        "config_sha256": bundle.config_sha256,
        "released": release,
    }


def _gate_name(record: dict[str, Any]) -> str | None:
    """The input gate a bundle checks its inputs with (``models attach-gate``), if any."""
    return f"{record['name']} {record['version']}" if record else None


def _saliency_verdict(bundle: Bundle) -> str | None:
    """Whether the heatmaps of these weights were shown to follow the model's evidence (classifiers only)."""
    if bundle.metadata.medsight.kind != "classification":
        return None
    audit = bundle.metadata.medsight.saliency_audit
    if not audit:
        return "none recorded"
    if audit.get("model_sha256") != bundle.sha256:
        return "of other weights"
    if SaliencySpec.from_dict(audit.get("saliency") or {}) != bundle.saliency:
        return "of another method"
    return "passed" if audit.get("passed") else "failed"


@models_app.command("refit-ood")
def refit_ood_cmd(
    name: Annotated[str, typer.Argument(help="A shipped model's name, or a bundle folder (rewritten in place).")],
    data: Annotated[Path, typer.Option("--data", "-d", help="The dataset the model was trained on.")],
    folds: Annotated[
        int, typer.Option("--folds", min=2, max=50, help="Folds the thresholds are cross-fitted over.")
    ] = 10,
    quantile: Annotated[
        float | None,
        typer.Option(
            "--quantile", min=0.5, max=0.9999, help="Training quantile of the thresholds (default: the model's)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the check before and after as JSON.")] = False,
) -> None:
    """Re-fit a classifier's distribution check on its own training data; the weights are untouched.

    Only the check's two thresholds move: the bundle becomes the one `medsight train ...
    --ood-folds N` writes from the same data and seed, and its recorded training command
    says so. The data must be the data the model was trained on (its sha256 is checked).
    """
    import sys

    from medsight.services.ood_refit import OodRefitRequest, refit_ood

    command = shlex.join(["medsight", *sys.argv[1:]])
    result = refit_ood(
        OodRefitRequest(model=name, data=data, folds=folds, quantile=quantile, command=command),
        on_stage=lambda stage: typer.echo(f"{stage}...", err=True),
    )
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    for label, check in (("before", result.before), ("after", result.after)):
        typer.echo(
            f"{label}: {check['folds']} folds, thresholds pixel {check['pixel_threshold']:.2f}"
            f" / features {_thresholds(check['feature_threshold'])}; validation refused"
            f" {check['val_false_refusals']}/{check['val_n']}"
        )
    typer.echo(f"rewrote {result.bundle.path} (weights sha256 {result.bundle.sha256[:12]}, unchanged)")


def _thresholds(value: float | list[float]) -> str:
    """One threshold, or an ensemble's per member."""
    return f"{value:.2f}" if isinstance(value, float | int) else ", ".join(f"{v:.2f}" for v in value)


@models_app.command("train-gate")
def train_gate_cmd(
    data: Annotated[
        Path,
        typer.Option("--data", "-d", help="The folder of datasets (../shared/datasets); a missing one is skipped."),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="The gate bundle to write (replaced whole).")],
    epochs: Annotated[int, typer.Option("--epochs", min=1, max=500, help="Epochs of 60 balanced batches.")] = 20,
    seed: Annotated[int, typer.Option("--seed", help="Seeds weights, sampling and augmentation.")] = 0,
    threads: Annotated[int, typer.Option("--threads", min=0, help="torch CPU threads (0: torch's choice).")] = 0,
    version: Annotated[str, typer.Option("--version", help="The gate's version.")] = "1.0.0",
    as_json: Annotated[bool, typer.Option("--json", help="Print the gate's validation figures as JSON.")] = False,
) -> None:
    """Train the input gate, which tells chest X-rays, breast and fetal head ultrasound and brain MRI apart.

    It learns from the training split of every dataset under --data and is measured on
    their validation splits; the bundle (weights pinned by sha256, model card) is then
    attached to task models with `medsight models attach-gate`.
    """
    import sys

    from medsight.services.kind_gate import GateTrainRequest, train_gate
    from medsight.training.kind_gate import GateFitOptions

    request = GateTrainRequest(
        datasets=data,
        out=out,
        options=GateFitOptions(epochs=epochs, seed=seed, threads=threads),
        version=version,
        command=shlex.join(["medsight", *sys.argv[1:]]),
    )
    with progress_bar(enabled=not as_json) as progress:
        bar = progress.add_task("training the input gate", total=epochs)
        gate = train_gate(
            request,
            on_source=lambda line: progress.console.print(line, markup=False) if not as_json else None,
            on_epoch=lambda epoch, loss: progress.update(bar, completed=epoch, description=f"loss {loss:.4f}"),
        )
    if as_json:
        typer.echo(json.dumps({**gate.identity(), "validation": gate.metadata.metrics}, indent=2))
        return
    refused = gate.metadata.metrics["refused"]
    for kind, by_source in refused.items():
        own = [s for s, cell in by_source.items() if gate.metadata.training["sources"][s]["kind"] == kind]
        false = sum(by_source[s]["refused"] for s in own)
        n = sum(by_source[s]["n"] for s in own)
        foreign = {s: cell for s, cell in by_source.items() if s not in own}
        caught = sum(c["refused"] for c in foreign.values())
        total = sum(c["n"] for c in foreign.values())
        typer.echo(f"{kind}: refuses {false}/{n} of its own val images, {caught}/{total} of the other kinds'")
    typer.echo(f"wrote {gate.path} (sha256 {gate.sha256[:12]})")


@models_app.command("set-saliency")
def set_saliency_cmd(
    name: Annotated[str, typer.Argument(help="A shipped model's name or a bundle folder (metadata rewritten).")],
    method: Annotated[str, typer.Option("--method", help="gradcam or occlusion.")],
    patch: OcclusionPatchOption = 0,
    stride: OcclusionStrideOption = 0,
) -> None:
    """Choose how a classifier draws its heatmaps; its weights are untouched.

    Audit the candidate first (`medsight audit saliency --method ...`), then set it, then
    audit again with `--record`: setting a method removes the audit of the old one. The
    method is one of the model's settings, so its release and fairness audit must be
    recorded again too.
    """
    from medsight.services.saliency_audit import set_saliency

    bundle = set_saliency(name, saliency_spec(method, patch, stride))
    typer.echo(f"{bundle.name}: heatmaps by {bundle.saliency.describe()}; settings sha256 {bundle.config_sha256[:12]}")


@models_app.command("attach-gate")
def attach_gate_cmd(
    name: Annotated[str, typer.Argument(help="A shipped model's name or a bundle folder (metadata rewritten).")],
    gate: Annotated[str, typer.Option("--gate", help="A shipped gate's name, or a gate bundle folder.")] = (
        "image-kind-32"
    ),
) -> None:
    """Make a 2D model refuse inputs of another image kind, with the input gate; its weights are untouched.

    The bundle records the gate's name and weights sha256: it then loads only with that
    gate, and its model card says so.
    """
    from medsight.services.kind_gate import attach_gate

    bundle = attach_gate(name, gate)
    record = bundle.metadata.medsight.input_gate
    typer.echo(
        f"{bundle.name}: input gate {record['name']} {record['version']} (sha256 {record['sha256'][:12]}),"
        f" refuses inputs it gives {record['kind']} under {record['min_probability']:g}"
    )
