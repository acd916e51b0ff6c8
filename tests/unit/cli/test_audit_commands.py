"""medsight audit fairness and medsight models promote as a user meets them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.unit.cli.test_cli import medsight

from medsight.models.bundle import load_bundle, shipped_bundles


def test_audit_then_promote_through_the_gate(synthetic_tb: Path, tiny_bundle: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, bundle)
    data_dir = tmp_path / "var"
    refused = medsight("models", "promote", bundle, "1.0.0", "--data-dir", data_dir)
    assert refused.returncode == 7, refused.stderr
    assert refused.stderr.startswith("error[model.release_refused]: ")
    assert "no fairness audit" in refused.stderr

    report = tmp_path / "audit.html"
    done = medsight(
        "audit", "fairness", "--task", "cxr-pneumonia", "--data", synthetic_tb, "--split", "val",
        "--model", bundle, "--groups", "sex,age_band,source", "--min-group-n", "10", "--bootstrap", "100",
        "--report", report, "--record", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert {"groups", "gaps", "gate", "passed"} <= set(document)
    assert set(document["groups"]) == {"sex", "age_band", "source", "sex*age_band"}
    assert report.read_text(encoding="utf-8").startswith("<!doctype html>")
    assert load_bundle(bundle).metadata.medsight.audit["passed"] == document["passed"]

    # The gate at promotion is the configured one: a limit of 0 fails any real model,
    # and an override is recorded with its reason.
    strict = ("--max-eod", "0", "--min-group-n", "10", "--data-dir", data_dir)
    assert medsight("models", "promote", bundle, "1.0.0", *strict).returncode == 7
    reason = "pilot at one site, reviewed by the clinical safety officer"
    forced = medsight("models", "promote", bundle, "1.0.0", *strict, "--override-reason", reason, "--json")
    assert forced.returncode == 0, forced.stderr
    assert json.loads(forced.stdout)["override"]["reason"] == reason
    listed = medsight("models", "list", "--data-dir", data_dir, "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert rows["cxr-tuberculosis-96"]["networks"] == 3  # the shipped ensemble
    assert rows["cxr-pneumonia-224"]["networks"] == 1
    # The shipped saliency audits (make models records them): TB's Grad-CAM failed it, so TB
    # draws occlusion maps, which pass (docs/models.md).
    assert rows["cxr-tuberculosis-96"]["saliency_audit"] == "passed"
    assert rows["cxr-tuberculosis-96"]["heatmaps"] == "occlusion"
    assert rows["us-breast-28"]["heatmaps"] == "gradcam"
    assert rows["mri-hippocampus-48"]["heatmaps"] is None
    assert load_bundle(shipped_bundles()["cxr-tuberculosis-96"]).saliency.method == "occlusion"
    assert rows["us-breast-28"]["saliency_audit"] == "passed"
    assert rows["mri-hippocampus-48"]["saliency_audit"] is None  # not a classifier
    # Each row names the settings digest its release record and fairness audit must match.
    tb = load_bundle(shipped_bundles()["cxr-tuberculosis-96"])
    assert (
        rows["cxr-tuberculosis-96"]["config_sha256"] == tb.config_sha256 == tb.metadata.medsight.audit["config_sha256"]
    )
    assert rows["cxr-tuberculosis-96"]["audit"] == "passes the gate"


def test_audit_saliency_explains_the_positive_calls_and_writes_a_self_contained_report(
    synthetic_npz: Path, tiny_bundle: Path, tmp_path: Path
) -> None:
    report = tmp_path / "saliency.html"
    done = medsight(
        "audit", "saliency", "--task", "cxr-pneumonia", "--data", synthetic_npz, "--model", tiny_bundle,
        "--cases", "6", "--steps", "4", "--bootstrap", "100", "--report", report, "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert set(document["checks"]) == {"deletion", "insertion", "randomization_head", "randomization_all"}
    assert document["passed"] == all(check["passed"] for check in document["checks"].values())
    explained = document["explained"]
    assert 2 <= explained["explained"] == document["n"] <= min(6, explained["positive_calls"])
    assert len(document["curves"]["fractions"]) == 5
    # Deletion ends at the blurred image whatever the order: both curves meet there.
    assert document["curves"]["deletion"][-1] == document["curves"]["deletion_random"][-1]
    page = report.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>")
    assert "data:image/png;base64," in page
    assert "http://" not in page
    assert "https://" not in page
    assert "<script" not in page

    text = medsight(
        "audit", "saliency", "--task", "cxr-pneumonia", "--data", synthetic_npz, "--model", tiny_bundle,
        "--cases", "4", "--steps", "4", "--bootstrap", "100",
    )  # fmt: skip
    assert text.returncode == 0, text.stderr
    assert "[val]" in text.stdout
    assert "saliency audit: " in text.stdout


def test_audit_saliency_recorded_in_a_bundle_names_its_weights_and_enters_its_card(
    synthetic_npz: Path, tiny_bundle: Path, tmp_path: Path
) -> None:
    bundle = shutil.copytree(tiny_bundle, tmp_path / "bundle")
    assert "## Saliency audit\n\nNone recorded" in (bundle / "docs" / "model_card.md").read_text(encoding="utf-8")
    done = medsight(
        "audit", "saliency", "--task", "cxr-pneumonia", "--data", synthetic_npz, "--model", bundle,
        "--cases", "4", "--steps", "4", "--bootstrap", "100", "--baseline", "blur", "--record", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["method"]["baseline"].startswith("the image blurred")
    recorded = load_bundle(bundle)  # every weight still matches its sha256
    summary = recorded.metadata.medsight.saliency_audit
    assert summary["model_sha256"] == recorded.sha256
    assert summary["passed"] == document["passed"]
    assert summary["checks"] == document["checks"]
    assert (bundle / "docs" / "saliency_audit.html").read_text(encoding="utf-8").startswith("<!doctype html>")
    assert json.loads((bundle / "docs" / "saliency_audit.json").read_text(encoding="utf-8"))["n"] == document["n"]
    card = (bundle / "docs" / "model_card.md").read_text(encoding="utf-8")
    verdict = "passed" if document["passed"] else "FAILED"
    assert f"## Saliency audit\n\n{verdict}: Grad-CAM heatmaps of the {document['n']} pneumonia calls" in card


def test_audit_saliency_refuses_a_segmentation_task_and_an_unknown_baseline_in_one_line(
    synthetic_npz: Path, tiny_bundle: Path
) -> None:
    refused = medsight("audit", "saliency", "--task", "us-fetal-head", "--data", synthetic_npz)
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.startswith("error[usage.invalid]: us-fetal-head is a segmentation task")
    assert refused.stderr.strip().count("\n") == 0
    unknown = medsight(
        "audit", "saliency", "--task", "cxr-pneumonia", "--data", synthetic_npz, "--model", tiny_bundle,
        "--baseline", "zeros",
    )  # fmt: skip
    assert unknown.returncode == 2, unknown.stderr
    assert unknown.stderr.startswith("error[usage.invalid]: --baseline must be one of negative, blur")


def test_a_candidate_method_is_audited_set_then_recorded_and_never_recorded_before_it_is_set(
    synthetic_npz: Path, tiny_bundle: Path, tmp_path: Path
) -> None:
    bundle = shutil.copytree(tiny_bundle, tmp_path / "bundle")
    quick = ("--cases", "4", "--steps", "4", "--bootstrap", "100")
    audit = ("audit", "saliency", "--task", "cxr-pneumonia", "--data", synthetic_npz, "--model", bundle, *quick)
    assert medsight(*audit, "--record").returncode == 0  # Grad-CAM's audit, recorded
    gradcam_settings = load_bundle(bundle).config_sha256
    occlusion = ("--method", "occlusion", "--patch", "8", "--stride", "4")

    candidate = medsight(*audit, *occlusion, "--json")
    assert candidate.returncode == 0, candidate.stderr
    document = json.loads(candidate.stdout)
    assert document["method"]["setting"] == {"method": "occlusion", "patch": 8, "stride": 4}
    assert document["method"]["saliency"].endswith("(a candidate)")
    assert "6x6 grid" in document["method"]["random_maps"]  # (28 - 8) / 4 + 1 squares a side
    # A candidate's figures must not vouch for the maps the bundle draws.
    refused = medsight(*audit, *occlusion, "--record")
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.startswith("error[usage.invalid]: the audit judged occlusion maps but ")
    assert load_bundle(bundle).metadata.medsight.saliency_audit["saliency"] == {"method": "gradcam"}

    done = medsight("models", "set-saliency", bundle, "--method", "occlusion", "--patch", "8", "--stride", "4")
    assert done.returncode == 0, done.stderr
    switched = load_bundle(bundle)  # the weights untouched and verified
    assert switched.saliency.method == "occlusion"
    assert switched.config_sha256 != gradcam_settings  # a setting: releases and fairness audits must follow
    assert switched.metadata.medsight.saliency_audit == {}  # the old method's audit is gone, reports too
    assert not (bundle / "docs" / "saliency_audit.json").exists()
    card = (bundle / "docs" / "model_card.md").read_text(encoding="utf-8")
    assert "- Heatmaps: occlusion: 8 x 8 px squares every 4 px" in card
    assert "## Saliency audit\n\nNone recorded" in card

    recorded = medsight(*audit, "--record", "--json")
    assert recorded.returncode == 0, recorded.stderr
    assert json.loads(recorded.stdout)["method"]["saliency"].endswith("(what analyze --heatmap draws)")
    summary = load_bundle(bundle).metadata.medsight.saliency_audit
    assert summary["saliency"] == {"method": "occlusion", "patch": 8, "stride": 4}
    card = (bundle / "docs" / "model_card.md").read_text(encoding="utf-8")
    assert ": occlusion heatmaps of the" in card

    back = medsight("models", "set-saliency", bundle, "--method", "gradcam")
    assert back.returncode == 0, back.stderr
    assert load_bundle(bundle).config_sha256 == gradcam_settings  # the same settings, the same digest


def test_set_saliency_refuses_bad_parameters_and_segmentation_models_in_one_line(tiny_bundle: Path) -> None:
    for options, message in [
        (("--method", "lime"), "saliency method must be one of gradcam, occlusion, not 'lime'"),
        (("--method", "occlusion", "--patch", "8", "--stride", "9"), "occlusion needs patch >= 2 and 1 <= stride"),
        (("--method", "gradcam", "--patch", "8"), "Grad-CAM takes no patch or stride"),
    ]:
        refused = medsight("models", "set-saliency", tiny_bundle, *options)
        assert refused.returncode == 2, refused.stderr
        assert refused.stderr.startswith(f"error[usage.invalid]: {message}")
        assert refused.stderr.strip().count("\n") == 0
    segmenter = medsight("models", "set-saliency", "us-fetal-head-128", "--method", "occlusion", "--patch", "8",
                         "--stride", "4")  # fmt: skip
    assert segmenter.returncode == 2, segmenter.stderr
    assert "heatmaps are drawn for classifiers" in segmenter.stderr
