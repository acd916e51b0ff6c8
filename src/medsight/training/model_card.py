"""The model card (Mitchell et al., FAT* 2019): what a person must know before using a model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medsight.models.bundle import BundleMetadata, config_sha256
from medsight.models.saliency import GRADCAM, OCCLUSION, SaliencySpec
from medsight.tasks import TaskSpec, get_task

__all__ = [
    "bundle_model_card",
    "card_check_and_weights",
    "card_input_gate",
    "card_opening",
    "card_pins",
    "card_run",
    "card_table",
    "render_model_card",
]

#: How each threshold rule reads on a model card (medsight.calibration.threshold).
_THRESHOLD_RULES = {
    "youden": "youden on validation; Youden's J does not depend on prevalence",
    "prevalence": "validation's share of positives: a calibrated probability there means a likelihood ratio of 1, "
    "Youden's optimum in the population; no search over validation cases, so steadier on a small split",
}


def _rule_in_words(rule: str) -> str:
    return _THRESHOLD_RULES.get(rule, f"{rule} on validation")


_METRIC_NAMES = {
    "auc": "AUC (ROC)",
    "accuracy": "Accuracy",
    "sensitivity": "Sensitivity",
    "specificity": "Specificity",
    "ppv": "PPV",
    "npv": "NPV",
    "f1": "F1",
    "ece": "ECE (15 bins)",
    "brier": "Brier score",
}


def bundle_model_card(root: Path, metadata: BundleMetadata) -> str:
    """The card of the bundle at ``root`` with ``metadata``, by its kind (a classifier's shows the plots in ``docs/``).

    What a card rewritten after training (an audit recorded, a re-fitted check) and the
    check that a shipped card is current both render.
    """
    task = get_task(metadata.medsight.task)
    # The segmentation renderers live beside their exporters, which import torch: only
    # bundles of those kinds pay for it.
    if metadata.medsight.kind == "volume-segmentation":
        from medsight.training.export_volume import volume_model_card

        return volume_model_card(metadata, task)
    if metadata.medsight.kind == "segmentation":
        from medsight.training.export_segment import segmenter_model_card

        return segmenter_model_card(metadata, task)
    plots = sorted(p.name for p in (root / "docs").glob("*.png"))
    return render_model_card(metadata, task, plots)


def render_model_card(metadata: BundleMetadata, task: TaskSpec, plots: list[str]) -> str:
    """Markdown for ``docs/model_card.md``, generated from the bundle's own metadata."""
    section = metadata.medsight
    training: dict[str, Any] = section.training
    data = training.get("data", {})
    val = section.metrics.get("val", {})
    lines = [
        *card_opening(metadata, task, "scored"),
        f"- Task: `{section.task}`; classes {', '.join(section.classes)}; "
        f"reports the calibrated probability of {section.classes[-1]}.",
        f"- Network: {_network(section.network)}.",
        f"- Input: {section.preprocessing['size']} x {section.preprocessing['size']} px greyscale in [0, 1], "
        f"crop `{section.preprocessing.get('crop', 'none')}` (see `medsight.tasks.preprocess`).",
        f"- Calibration: the class-weighting offset removed from the logit ({section.logit_offset:+.3f}), "
        f"then temperature scaling on validation, T = {section.temperature:.3f}.",
        f"- Operating threshold: {section.threshold:.4f} ({_rule_in_words(section.threshold_rule)}).",
        f"- Uncertainty: class-conditional conformal prediction sets at {section.conformal.get('coverage', 0):.0%} "
        "coverage per class; an input whose set holds both classes is flagged as ambiguous.",
        f"- Distribution check: {section.ood.get('method', '')}; thresholds at the "
        f"{section.ood.get('quantile', 0):.1%} training quantile, cross-fitted over "
        f"{section.ood.get('folds', 2)} folds; false-refusal rate on validation "
        f"{section.ood.get('val_false_refusal_rate', 0):.1%}.",
        *card_input_gate(section.input_gate),
        f"- Heatmaps: {SaliencySpec.from_dict(section.saliency).describe()}; the saliency audit below judges them.",
        *card_pins(metadata),
        "",
        "## Training data",
        "",
        f"- Source: `{data.get('file', '')}` ({data.get('layout', '')}), "
        f"sha256 `{data.get('sha256', data.get('listing_sha256', ''))}`.",
        f"- Split sizes: {_counts(training.get('split_sizes', {}))}; classes per split: "
        + "; ".join(f"{k} {_counts(v)}" for k, v in training.get("class_counts", {}).items())
        + ".",
        f"- Validation: {_validation_note(data)} The official test split was never used for training, "
        "model selection, calibration or the threshold.",
        _training_line(training),
        f"- Command: `{training.get('command', '')}`",
        *_consent_lines(data.get("consent")),
        "",
        f"## Validation metrics (n = {val.get('n', '?')}, 95% stratified bootstrap CIs)",
        "",
        "| metric | value | 95% CI |",
        "|---|---:|---|",
        *[f"| {_METRIC_NAMES[k]} | {val[k]:.4f} | {_ci(val.get(k + '_ci'))} |" for k in _METRIC_NAMES if k in val],
        "",
        f"Validation comes from the same {'sites' if val.get('by_source') else 'hospital'} and period as "
        "training. A held-back test split, and other sites and populations above all, can sit further from "
        "training than validation does: expect lower figures there.",
        "",
        *_by_site(val.get("by_source", [])),
    ]
    lines += _audit(section.audit)
    lines += _saliency_audit(section.saliency_audit)
    if plots:
        lines += ["## Plots", "", *[f"![{p}]({p})" for p in plots], ""]
    return "\n".join(lines)


_GAPS = ("tpr_difference", "fpr_difference", "equalized_odds_difference", "auc_difference")


def _audit(audit: dict[str, Any]) -> list[str]:
    """The recorded fairness audit (``medsight audit fairness --record``), or that there is none."""
    if not audit:
        return [
            "## Fairness audit",
            "",
            "None recorded: `medsight models promote` refuses this model until one passes.",
            "",
        ]
    gate = audit.get("gate", {})
    verdict = "passed" if audit.get("passed") else "FAILED"
    lines = [
        "## Fairness audit",
        "",
        f"{verdict} the release gate (equalized-odds difference across {', '.join(gate.get('attributes', []))} "
        f"<= {gate.get('max_equalized_odds_difference')}, groups of n >= {gate.get('min_group_n')}), on the "
        f"`{audit.get('split')}` split, {audit.get('audited_at', '')}. Full report: `docs/fairness_audit.html`.",
        "",
        "| attribute | compared | TPR gap | FPR gap | equalized odds | AUC gap |",
        "|---|---|---|---|---|---|",
    ]
    for attribute, gap in audit.get("gaps", {}).items():
        cells = [
            _gap(gap, k) for k in ("tpr_difference", "fpr_difference", "equalized_odds_difference", "auc_difference")
        ]
        compared = ", ".join(gap.get("compared", [])) or "fewer than two large groups"
        lines.append(f"| {attribute} | {compared} | " + " | ".join(cells) + " |")
    return [*lines, ""]


_SALIENCY_CHECKS = {
    "deletion": "deletion gain (random area - map area)",
    "insertion": "insertion gain (map area - random area)",
    "randomization_head": "rank correlation with the output layer re-initialised",
    "randomization_all": "rank correlation with every weight re-initialised",
}


_METHOD_NAMES = {GRADCAM: "Grad-CAM", OCCLUSION: "occlusion"}


def _audited_method(audit: dict[str, Any]) -> str:
    # Audits recorded before the method was a setting judged Grad-CAM, the only one then.
    return str((audit.get("saliency") or {}).get("method", GRADCAM))


def _saliency_audit(audit: dict[str, Any]) -> list[str]:
    """The recorded saliency audit (``medsight audit saliency --record``), or that there is none."""
    heading = ["## Saliency audit", ""]
    if not audit:
        return [*heading, "None recorded: whether the heatmaps follow the model's evidence is unmeasured.", ""]
    explained = audit.get("explained", {})
    lines = [
        *heading,
        f"{'passed' if audit.get('passed') else 'FAILED'}: {_METHOD_NAMES[_audited_method(audit)]} heatmaps of the "
        f"{explained.get('explained', '?')} {explained.get('class', '')} calls on the `{audit.get('split')}` split, "
        f"{audit.get('audited_at', '')}; pixels moved to and from {audit.get('baseline', '')}. "
        "Full report: `docs/saliency_audit.html`.",
        "",
        "| check | mean | 95% CI | verdict |",
        "|---|---:|---|---|",
    ]
    for name, check in audit.get("checks", {}).items():
        mean = check.get("mean")
        shown = "-" if mean is None else f"{mean:.3f}"
        verdict = "passed" if check.get("passed") else "failed"
        ci = check.get("ci") or [None, None]
        interval = "-" if None in ci else f"[{ci[0]:.3f}, {ci[1]:.3f}]"
        lines.append(f"| {_SALIENCY_CHECKS.get(name, name)} | {shown} | {interval} | {verdict} |")
    from medsight.audit.saliency import failed_checks  # scipy: only when asked

    failed = failed_checks(audit)
    if any(not name.startswith("randomization") for name in failed):
        lines += [
            "",
            "The heatmaps of this model are not shown to follow its evidence: read them as a rough guide to what "
            "it looked at, never as where a finding is.",
        ]
    elif failed:
        lines += [
            "",
            "The heatmaps mark regions that move the score, but change little when the model's "
            f"{'weights are' if 'randomization_all' in failed else 'output layer is'} re-initialised: they show "
            "where the network responds more than evidence specific to the finding.",
        ]
    return [*lines, ""]


def _gap(gap: dict[str, Any], key: str) -> str:
    value = gap.get(key)
    return "-" if value is None else f"{value:.3f} {_ci(gap.get(key + '_ci'))}"


def _by_site(sites: list[dict[str, Any]]) -> list[str]:
    """The validation figures per site, where the data records several."""
    if not sites:
        return []
    lines = [
        "## Validation by site (95% stratified bootstrap CIs)",
        "",
        "| site | n | AUC | accuracy | sensitivity | specificity |",
        "|---|---:|---|---|---|---|",
    ]
    for site in sites:
        cells = [f"{site[k]:.4f} {_ci(site.get(k + '_ci'))}" for k in ("auc", "accuracy", "sensitivity", "specificity")]
        lines.append(f"| {site['source']} | {site['n']} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _validation_note(data: dict[str, Any]) -> str:
    if data.get("layout") == "npz":
        return (
            "the MedMNIST `val` split, which MedMNIST drew from the source's training images without "
            "documenting a patient-level split: val may share patients with train and flatter the figures below."
        )
    if data.get("layout") == "labels_csv":
        return "the `val` rows of labels.csv (the shared copy splits by patient id: no patient is in both)."
    return "the `val` folder of the class-folder layout."


def _network(network: dict[str, Any]) -> str:
    widths = "-".join(str(w) for w in network.get("widths", []))
    shape = f"basic blocks {network.get('blocks')}, widths {widths}, {network.get('stem')} stem"
    members = int(network.get("members", 1))
    if members == 1:
        return f"MONAI ResNet, {shape}"
    return (
        f"an ensemble of {members} MONAI ResNets ({shape}), trained independently from consecutive seeds; "
        "their logits are averaged before calibration"
    )


def _threads(training: dict[str, Any]) -> str:
    """'1 CPU thread', '2 CPU threads'."""
    threads = training.get("platform", {}).get("threads", "?")
    return f"{threads} CPU thread" + ("" if str(threads) == "1" else "s")


def _training_line(training: dict[str, Any]) -> str:
    """Seed, chosen epoch(s), time: one member's or every ensemble member's."""
    where = (
        f"at most {training.get('epochs_max')} epochs each, {training.get('seconds', 0) / 60:.1f} min in all on "
        f"{_threads(training)}"
    )
    members = training.get("members") or []
    if not members:
        return (
            f"- Training: seed {training.get('seed')}, best epoch {training.get('best_epoch')} of at most "
            f"{training.get('epochs_max')}, {training.get('seconds', 0) / 60:.1f} min on "
            f"{_threads(training)}."
        )
    each = "; ".join(f"seed {m['seed']}: best epoch {m['best_epoch']}, val AUC {m['val_auc']:.4f}" for m in members)
    return f"- Training: {len(members)} members, {where} ({each}; the ensemble's validation figures are below)."


def _counts(counts: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items())


def _ci(ci: list[float | None] | None) -> str:
    return f"[{ci[0]:.4f}, {ci[1]:.4f}]" if ci and None not in ci else "-"


def _consent_lines(consent: Any) -> list[str]:
    """The consent check of a dataset built from a medsight store (nothing for public datasets)."""
    if not isinstance(consent, dict):
        return []
    return [
        f"- Consent: only patients whose consent to {consent.get('purpose', 'model training')} was in force "
        f"when training started ({consent.get('checked_at', '?')}): {consent.get('images', '?')} images of "
        f"{consent.get('patients', '?')} patients; {consent.get('left_out_withdrawn', 0)} images left out "
        "because consent had been withdrawn. Each patient's pseudonym and each image's sha256 are in the "
        "hospital's training-run register, not in this bundle.",
    ]


def card_opening(metadata: BundleMetadata, task: TaskSpec, verb: str) -> list[str]:
    """Title, description, intended use, what it is not for (inputs refused, never ``verb``), ``## Model``."""
    return [
        f"# {metadata.name} {metadata.version}",
        "",
        metadata.description,
        "",
        "## Intended use",
        "",
        task.intended_use,
        "",
        "## Not for",
        "",
        *[f"- {limit}" for limit in task.limitations],
        f"- Anything but {task.acceptance.description}: such inputs are refused with a reason, never {verb}.",
        "",
        "## Model",
        "",
    ]


def card_check_and_weights(metadata: BundleMetadata) -> list[str]:
    """The distribution check with its false-refusal rate, and the weights' sha256."""
    section = metadata.medsight
    return [
        f"- Distribution check: {section.ood.get('method')}; false-refusal rate on validation "
        f"{section.ood.get('val_false_refusal_rate', 0):.1%}.",
        *card_input_gate(section.input_gate),
        *card_pins(metadata),
    ]


def card_pins(metadata: BundleMetadata) -> list[str]:
    """The weights' sha256 and the digest of the settings (what releases and fairness audits name)."""
    section = metadata.medsight
    heatmaps = "heatmap method, " if section.kind == "classification" else ""
    return [
        f"- Weights: `models/model.pt` sha256 `{section.weights.get('model.pt', '')}`.",
        f"- Settings: sha256 `{config_sha256(section)}` over everything above that decides an output (threshold, "
        f"calibration, preprocessing, uncertainty, distribution check, input gate, {heatmaps}the weights' "
        "hashes); a release and a fairness audit name it, so neither vouches for a model whose settings moved since.",
    ]


def card_input_gate(record: dict[str, Any]) -> list[str]:
    """The input gate a bundle checks every input with, if it records one."""
    if not record:
        return []
    return [
        f"- Input gate: `{record['name']}` {record['version']} (weights sha256 `{record['sha256'][:16]}...`) "
        f"refuses an input it gives `{record['kind']}` a probability under {record['min_probability']:g}, "
        "before the distribution check (its own model card gives its validation figures).",
    ]


def card_run(training: dict[str, Any]) -> list[str]:
    """Seed, best epoch, minutes on how many threads, and the command."""
    return [
        f"- Seed {training.get('seed')}, best epoch {training.get('best_epoch')} of at most "
        f"{training.get('epochs_max')}, {training.get('seconds', 0) / 60:.1f} min on "
        f"{_threads(training)}.",
        f"- Command: `{training.get('command', '')}`",
    ]


def card_table(heading: str, rows: list[str]) -> list[str]:
    """A ``## Validation ...`` heading and its metric / value / 95% CI table."""
    return [heading, "", "| metric | value | 95% CI |", "|---|---:|---|", *rows]
