// The worklist: studies with the latest analysis of each task run on them, sorted, filtered
// and paged by the server, refreshed every few seconds while it is on screen. A chest film
// gets a tuberculosis and a pneumonia analysis: both findings are listed, positive ones
// marked, and those the model is unsure of flagged, so that triage does not miss one.

import { getJson } from "./api.js";

const $ = (id) => document.getElementById(id);
const PAGE = 25;
const REFRESH_MS = 4000;

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text ?? "";
  if (className) td.className = className;
  return td;
}

// Why an analysis is flagged "uncertain" (the API's uncertain_reasons).
const UNCERTAIN_TEXT = {
  prediction_set: "the model's prediction set does not hold exactly one class",
  members_split: "the ensemble's members fall on both sides of the threshold",
};

function findingText(analysis, several) {
  if (analysis.status === "done") return analysis.finding ?? "";
  if (analysis.status === "refused") return "refused";
  // One analysis: the status column says it already; several: say which task is still running.
  return several ? analysis.status : "";
}

/** The findings and probabilities cells: one line per task's latest analysis. */
function analysisCells(item) {
  // A server that predates per-task analyses sends only the newest one.
  const analyses = item.analyses ?? (item.analysis ? [item.analysis] : []);
  const findings = cell("", "findings");
  const probabilities = cell("", "number");
  for (const analysis of analyses) {
    const line = document.createElement("div");
    line.className = "finding-line";
    line.dataset.task = analysis.task;
    if (analyses.length > 1) {
      const task = document.createElement("span");
      task.className = "finding-task";
      task.textContent = analysis.task;
      line.append(task, " ");
    }
    const finding = document.createElement("span");
    finding.textContent = findingText(analysis, analyses.length > 1);
    if (analysis.positive) finding.className = "finding-positive";
    line.append(finding);
    if (analysis.uncertain) {
      const flag = document.createElement("span");
      flag.className = "flag-uncertain";
      flag.textContent = "uncertain";
      flag.title = (analysis.uncertain_reasons || []).map((code) => UNCERTAIN_TEXT[code] || code).join("; ");
      line.append(" ", flag);
    }
    findings.append(line);
    const probability = document.createElement("div");
    probability.textContent =
      analysis.status === "done" && typeof analysis.probability === "number" ? `${(100 * analysis.probability).toFixed(1)}%` : "\u00a0";
    probabilities.append(probability);
  }
  return [findings, probabilities];
}

function formatDate(value) {
  return value && value.length === 8 ? `${value.slice(0, 4)}-${value.slice(4, 6)}-${value.slice(6)}` : value || "";
}

function formatName(value) {
  return (value || "").replaceAll("^", " ").trim();
}

export class Worklist {
  constructor(onOpen) {
    this.onOpen = onOpen;
    this.sort = "date";
    this.order = "desc";
    this.offset = 0;
    this.total = 0;
    this.timer = null;
    this.active = false;
    this.bind();
  }

  bind() {
    const form = $("worklist-filters");
    form.addEventListener("input", () => this.restart());
    form.addEventListener("reset", () => setTimeout(() => this.restart(), 0));
    form.addEventListener("submit", (event) => event.preventDefault());
    for (const header of document.querySelectorAll("#worklist-table th[data-sort]")) {
      header.querySelector("button").addEventListener("click", () => this.sortBy(header.dataset.sort));
    }
    $("page-prev").addEventListener("click", () => this.page(-1));
    $("page-next").addEventListener("click", () => this.page(1));
  }

  show() {
    this.active = true;
    this.refresh();
  }

  hide() {
    this.active = false;
    clearTimeout(this.timer);
  }

  restart() {
    this.offset = 0;
    this.refresh();
  }

  sortBy(column) {
    this.order = this.sort === column && this.order === "desc" ? "asc" : "desc";
    this.sort = column;
    for (const header of document.querySelectorAll("#worklist-table th[data-sort]")) {
      const sorted = header.dataset.sort === column;
      header.setAttribute("aria-sort", sorted ? (this.order === "asc" ? "ascending" : "descending") : "none");
    }
    this.restart();
  }

  page(direction) {
    const offset = this.offset + direction * PAGE;
    if (offset < 0 || offset >= this.total) return;
    this.offset = offset;
    this.refresh();
  }

  query() {
    const params = new URLSearchParams({ sort: this.sort, order: this.order, limit: String(PAGE), offset: String(this.offset) });
    for (const [key, value] of new FormData($("worklist-filters"))) {
      if (value) params.set(key, value);
    }
    return params;
  }

  /** Fetch the page now and schedule the next refresh (live updates as jobs finish). */
  async refresh() {
    clearTimeout(this.timer);
    if (!this.active) return;
    const params = this.query();
    try {
      const page = await getJson(`/api/v1/worklist?${params}`);
      if (params.toString() === this.query().toString()) this.render(page);
    } catch (error) {
      $("page-info").textContent = `Worklist unavailable: ${error.message}`;
    }
    if (this.active) this.timer = setTimeout(() => this.refresh(), REFRESH_MS);
  }

  render(page) {
    this.total = page.total;
    const body = document.querySelector("#worklist-table tbody");
    body.replaceChildren(...page.items.map((item) => this.row(item)));
    if (page.items.length === 0) {
      const tr = document.createElement("tr");
      const td = cell("No study matches.");
      td.colSpan = 8;
      tr.append(td);
      body.append(tr);
    }
    const first = page.total === 0 ? 0 : page.offset + 1;
    $("page-info").textContent = `${first}–${page.offset + page.items.length} of ${page.total}`;
    $("page-prev").disabled = page.offset === 0;
    $("page-next").disabled = page.offset + page.items.length >= page.total;
  }

  row(item) {
    const tr = document.createElement("tr");
    tr.tabIndex = 0;
    tr.dataset.studyUid = item.study_uid;
    const analysis = item.analysis;
    // A series still arriving: its analysis starts once the series is complete.
    const status = analysis ? analysis.status : item.waiting ? "waiting" : "—";
    tr.append(
      cell(item.patient_name === null ? "(hidden)" : formatName(item.patient_name)),
      cell(item.patient_id),
      cell(formatDate(item.study_date)),
      cell(item.modalities.join(", ")),
      cell(item.description),
      cell(status, `status status-${status}`),
      ...analysisCells(item),
    );
    tr.setAttribute("aria-label", `Open study ${formatName(item.patient_name)} ${formatDate(item.study_date)} ${item.description || ""}`);
    const open = () => this.onOpen(item.study_uid);
    tr.addEventListener("click", open);
    tr.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        open();
      }
    });
    return tr;
  }
}
