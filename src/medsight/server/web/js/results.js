// The AI panel: the latest analysis of a study (finding, calibrated probability, uncertainty,
// threshold, model, or the refusal), its heatmap on the canvas, links, and the reader's verdict.
// A study analysed by several tasks (a chest film: pneumonia and tuberculosis) lists each
// task's latest analysis as a button with its finding; the chosen one is shown in full.

import { ApiError, getBlob, getJson, postJson } from "./api.js";

const $ = (id) => document.getElementById(id);
const FINISHED = new Set(["done", "refused", "failed"]);
const POLL_MS = 2000;

function row(list, term, text) {
  const dt = document.createElement("dt");
  dt.textContent = term;
  const dd = document.createElement("dd");
  dd.textContent = text;
  list.append(dt, dd);
  return dd;
}

const HEATMAP_METHODS = { gradcam: "Grad-CAM", occlusion: "occlusion" };

/** What the model's recorded saliency audit says of its heatmaps (medsight audit saliency), after the method that drew them. */
function heatmapTrust(audit) {
  if (!audit) return "faithfulness not measured (no saliency audit on record)";
  return `${HEATMAP_METHODS[audit.method] || audit.method}: ${auditVerdict(audit)}`;
}

function auditVerdict(audit) {
  if (audit.passed) return "follows the model's evidence (saliency audit passed)";
  const failed = audit.failed || [];
  const because = `saliency audit failed: ${failed.join(", ").replaceAll("_", " ")}`;
  // Deletion or insertion failed: the map does not mark what moves the score.
  if (failed.some((name) => !name.startsWith("randomization"))) {
    return `not shown to follow the model's evidence (${because}): a rough guide, not where a finding is`;
  }
  return `marks regions that move the score, but changes little with random weights (${because}): where the network responds, not the finding itself`;
}

function percent(p) {
  return `${(100 * p).toFixed(1)}%`;
}

/** The newest job of each task, newest first (the API lists jobs newest first). */
function latestPerTask(jobs) {
  const seen = new Map();
  for (const job of jobs) if (!seen.has(job.task)) seen.set(job.task, job);
  return [...seen.values()];
}

/** One line for a task's button: its finding and probability, or its status. */
function summary(job) {
  const result = job.result || {};
  if (job.status === "done" && typeof result.probability === "number") return `${result.label} ${percent(result.probability)}`;
  if (job.status === "done" && result.volumes_ml) {
    return Object.entries(result.volumes_ml).map(([name, ml]) => `${name} ${Number(ml).toFixed(1)} mL`).join(", ");
  }
  return job.status === "queued" ? "pending" : job.status;
}

/** The SOP Instance UID at the end of a WADO-RS instance path (the analysed image). */
function sopOf(path) {
  const match = /\/instances\/([^/]+)$/.exec(path || "");
  return match ? decodeURIComponent(match[1]) : null;
}

export class Results {
  constructor(viewer) {
    this.viewer = viewer;
    this.job = null;
    this.timer = null;
    this.generation = 0;
    this.latest = [];
    this.tasks = document.createElement("div");
    this.tasks.id = "ai-tasks";
    this.tasks.className = "ai-tasks";
    this.tasks.setAttribute("role", "group");
    this.tasks.setAttribute("aria-label", "Analyses of this study");
    $("ai-result").before(this.tasks);
    $("feedback-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.sendFeedback();
    });
  }

  /**
   * Show the latest analysis of a study, polling until it finishes; resolves to the analysed SOP UID.
   * `recheck`: when neither an analysis nor a waiting series is found, look once more (see renderWaiting).
   */
  async open(studyUid, recheck = true) {
    this.close();
    const generation = this.generation;
    let jobs;
    try {
      jobs = await getJson(`/api/v1/analyses?study_uid=${encodeURIComponent(studyUid)}&limit=20`);
    } catch (error) {
      this.renderMessage(error instanceof ApiError && error.status === 403 ? "You may not read this study's analyses." : `Analyses unavailable: ${error.message}`);
      return null;
    }
    if (generation !== this.generation) return null;
    const latest = latestPerTask(jobs);
    const job = latest.find((j) => j.status === "done") || latest[0];
    if (!job) {
      return this.renderWaiting(studyUid, generation, recheck);
    }
    this.latest = latest;
    await this.show(job, generation);
    return sopOf(job.result?.path);
  }

  /** A button per task when there are several (the shown one pressed); choosing one shows it. */
  renderTasks() {
    this.tasks.replaceChildren();
    if (this.latest.length < 2) return;
    for (const job of this.latest) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = `${job.task}: ${summary(job)}`;
      button.setAttribute("aria-pressed", String(job.id === this.job?.id));
      button.addEventListener("click", () => this.choose(job));
      this.tasks.append(button);
    }
  }

  async choose(job) {
    if (this.job?.id === job.id) return;
    this.generation += 1;
    clearTimeout(this.timer);
    $("feedback-form").hidden = true;
    $("overlay-controls").disabled = true;
    this.viewer.setOverlay({ image: null, sopUid: null });
    await this.show(job, this.generation);
  }

  close() {
    this.generation += 1;
    clearTimeout(this.timer);
    this.job = null;
    this.latest = [];
    this.tasks.replaceChildren();
    $("feedback-form").hidden = true;
    $("overlay-controls").disabled = true;
    $("ai-links").replaceChildren();
  }

  /**
   * No analysis yet. A series still arriving is analysed once it is complete (no new image
   * for the server's quiet time): say so, and look again when that time is up.
   */
  async renderWaiting(studyUid, generation, recheck) {
    let waiting = [];
    try {
      waiting = await getJson(`/api/v1/analyses/waiting?study_uid=${encodeURIComponent(studyUid)}`);
    } catch {
      waiting = []; // an older server, or no access: nothing to promise
    }
    if (generation !== this.generation) return null;
    if (!waiting.length) {
      // The server queues a stable series' job, then drops its wait: between the two
      // requests above the series may have gone from one to the other. Look once more.
      if (recheck) return this.open(studyUid, false);
      this.renderMessage("No analysis of this study.");
      return null;
    }
    const seconds = Math.max(...waiting.map((w) => w.seconds_left));
    this.renderMessage(
      `Waiting for the series to be complete: its analysis starts once no new image has arrived for ` +
        `${Math.round(waiting[0].stable_s)} s (in about ${Math.ceil(seconds)} s).`,
      "ai-waiting",
    );
    this.timer = setTimeout(() => {
      if (generation === this.generation) this.open(studyUid);
    }, Math.max(POLL_MS, (seconds + 1) * 1000));
    return null;
  }

  renderMessage(text, id = null) {
    const p = document.createElement("p");
    p.textContent = text;
    if (id) p.id = id;
    $("ai-result").replaceChildren(p);
  }

  async show(job, generation) {
    this.job = job;
    this.latest = this.latest.map((j) => (j.id === job.id ? job : j));
    this.renderTasks();
    this.render(job);
    if (!FINISHED.has(job.status)) {
      this.timer = setTimeout(async () => {
        if (generation !== this.generation) return;
        try {
          await this.show(await getJson(`/api/v1/analyses/${job.id}`), generation);
        } catch {
          this.timer = setTimeout(() => this.show(job, generation), POLL_MS);
        }
      }, POLL_MS);
      return;
    }
    this.renderLinks(job);
    if (job.result?.segmentation) this.viewer.refreshSegmentations();
    if (job.result) {
      $("feedback-form").hidden = false;
      this.loadFeedback();
    }
    if (job.links?.heatmap) await this.loadHeatmap(job, generation);
  }

  render(job) {
    const panel = $("ai-result");
    const list = document.createElement("dl");
    list.className = "result";
    const result = job.result || {};
    row(list, "Task", job.task);
    row(list, "Status", job.status === "queued" ? "pending" : job.status);
    if (job.status === "done" && result.volumes_ml) {
      // A volume segmentation: each label's volume; the SEG is drawn by the viewer's overlay.
      for (const [name, ml] of Object.entries(result.volumes_ml)) row(list, `Volume, ${name}`, `${Number(ml).toFixed(2)} mL`);
      if (typeof result.confidence === "number") row(list, "Confidence", `${result.confidence.toFixed(3)} (expected Dice)`);
    } else if (job.status === "done") {
      row(list, "Finding", result.label ?? "—");
      row(list, "Probability", percent(result.probability)).id = "ai-probability";
      const u = result.uncertainty;
      if (u) row(list, "Uncertainty", `${u.ambiguous ? "ambiguous" : "confident"}: {${u.prediction_set.join(", ")}} at ${percent(u.coverage)} coverage`);
      // An ensemble: members that split over the threshold mean the training data did not settle this image.
      if (u && u.members) {
        const m = u.members;
        row(list, "Ensemble", `${m.positive} of ${m.n} members at or above the threshold${m.unanimous ? "" : ": they disagree"}`).id = "ai-members";
      }
      row(list, "Threshold", percent(result.threshold ?? 0));
      row(list, "Heatmap", heatmapTrust(job.model.saliency_audit)).id = "ai-heatmap-audit";
    } else if (job.status === "refused" && result.refused) {
      row(list, "Refused", result.refused.reason);
      row(list, "Check", `${result.refused.check} (${result.refused.code})`);
    } else if (job.status === "failed" && job.error) {
      row(list, "Failed", job.error.message);
    }
    // A model never promoted through the fairness gate still runs (unless the service
    // requires releases), but the reader is told.
    const release = job.model.released === false ? " (not released: no passing fairness audit on record)" : "";
    row(list, "Model", `${job.model.name} ${job.model.version}${release}`);
    // The input gate decides which images of another kind the model refuses; attaching one
    // changes neither the weights nor the version, so it is named beside them.
    const gate = result.model && result.model.input_gate;
    if (gate) row(list, "Input gate", `${gate.name} ${gate.version}`).id = "ai-input-gate";
    if (Array.isArray(result.images) && result.images.length > 1) {
      const scored = result.images.filter((image) => typeof image.probability === "number" || image.volumes_ml).length;
      const refused = result.images.filter((image) => image.refused).length;
      row(list, "Images", `${result.images.length}: ${scored} scored, ${refused} refused (the highest shown)`);
    }
    panel.replaceChildren(list);
  }

  renderLinks(job) {
    const links = $("ai-links");
    links.replaceChildren();
    const add = (label, path, accept) => {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = label;
      button.addEventListener("click", () => this.openAuthorized(path, accept));
      links.append(button);
    };
    if (job.report) {
      const study = encodeURIComponent(job.study_uid);
      const path = `/dicomweb/studies/${study}/series/${encodeURIComponent(job.report.series_uid)}/instances/${encodeURIComponent(job.report.sop_instance_uid)}/metadata`;
      add("DICOM SR", path, "application/dicom+json");
    }
    const seg = job.result?.segmentation;
    if (seg) {
      const study = encodeURIComponent(job.study_uid);
      add("DICOM SEG", `/dicomweb/studies/${study}/series/${encodeURIComponent(seg.series_uid)}/instances/${encodeURIComponent(seg.sop_instance_uid)}/metadata`, "application/dicom+json");
    }
    if (job.links?.fhir) add("FHIR report", job.links.fhir, "application/fhir+json");
  }

  /** Links that need the token: fetch with it, then open the body in a new tab as a blob. */
  async openAuthorized(path, accept) {
    try {
      const blob = await getBlob(path, accept);
      const url = URL.createObjectURL(new Blob([await blob.text()], { type: "text/plain" }));
      window.open(url, "_blank", "noopener");
    } catch (error) {
      this.renderMessage(`Could not open it: ${error.message}`);
    }
  }

  async loadHeatmap(job, generation) {
    try {
      // The heat alone (RGBA) sits over the reader's own window/level; jobs finished before
      // it was kept have only the blended preview, which the slider fades in over the image.
      const kind = job.links.heat ? "heat" : "blended";
      const blob = await getBlob(job.links.heat || job.links.heatmap, "image/png");
      const image = await createImageBitmap(blob);
      if (generation !== this.generation) return;
      $("overlay-controls").disabled = false;
      this.viewer.setOverlay({ image, kind, sopUid: sopOf(job.result.path) });
    } catch {
      $("overlay-controls").disabled = true;
    }
  }

  async loadFeedback() {
    const list = $("feedback-list");
    try {
      const given = await getJson(`/api/v1/analyses/${this.job.id}/feedback`);
      list.replaceChildren(...given.map((f) => {
        const item = document.createElement("li");
        item.textContent = `${f.verdict} · ${f.actor} · ${new Date(f.created_at).toLocaleString()}${f.comment ? ` — ${f.comment}` : ""}`;
        return item;
      }));
    } catch {
      list.replaceChildren();
    }
  }

  async sendFeedback() {
    const form = $("feedback-form");
    const verdict = form.elements.verdict.value;
    const statusLine = $("feedback-status");
    if (!verdict) {
      statusLine.textContent = "Choose agree or disagree.";
      return;
    }
    try {
      await postJson(`/api/v1/analyses/${this.job.id}/feedback`, { verdict, comment: form.elements.comment.value || null });
      statusLine.textContent = `Saved: ${verdict}.`;
      form.elements.comment.value = "";
      await this.loadFeedback();
    } catch (error) {
      statusLine.textContent = `Not saved: ${error.message}`;
    }
  }
}
