// Imaging protocols (#protocols): a patient profile in, ranked and explained recommendations out.
// The form is built from GET /api/v1/protocols/indications (each indication's findings
// become inputs of their type); the answer of POST /api/v1/protocols/recommend is drawn
// with textContent only, so nothing the service echoes can run as markup. Nothing is kept:
// the profile lives in the form until the page is left.

import { getJson, postJson } from "./api.js";

const FAMILY = ["brca1", "brca2", "tp53", "lynch_syndrome", "first_degree_breast_cancer",
  "first_degree_colorectal_cancer", "first_degree_lung_cancer", "familial_intracranial_aneurysm",
  "polycystic_kidney_disease", "first_degree_aaa", "familial_adenomatous_polyposis"];
const HISTORY = ["chest_radiation_age_10_30", "prior_breast_cancer", "dense_breasts", "prior_colorectal_cancer",
  "prior_lung_cancer", "other_cancer", "atypical_breast_hyperplasia", "inflammatory_bowel_disease", "copd",
  "anticoagulated", "immunocompromised", "prior_fragility_fracture", "glucocorticoids", "premature_menopause"];

const words = (code) => code.replaceAll("_", " ");

/** An element with attributes and children (strings become text nodes). */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) node.append(child);
  return node;
}

function field(label, input) {
  return el("label", { class: "protocol-field" }, label, input);
}

function select(name, options, label) {
  const node = el("select", { name, "aria-label": label });
  for (const [value, text] of options) node.append(el("option", { value, text }));
  return node;
}

function number(name, label, attrs = {}) {
  return el("input", { type: "number", name, step: "any", "aria-label": label, ...attrs });
}

function checkboxes(name, codes, legend) {
  const set = el("fieldset", { class: "protocol-checks", "data-name": name }, el("legend", { text: legend }));
  for (const code of codes) {
    set.append(el("label", {}, el("input", { type: "checkbox", value: code, "aria-label": `${legend}: ${words(code)}` }), words(code)));
  }
  return set;
}

function checked(root, name) {
  const set = root.querySelector(`fieldset[data-name="${name}"]`);
  return set ? [...set.querySelectorAll("input:checked")].map((box) => box.value) : [];
}

export class Protocols {
  constructor(section) {
    this.section = section;
    this.indications = null;
  }

  /** Build the form once (the indications come from the service), then show it. */
  async show() {
    if (this.indications) return;
    this.section.replaceChildren(el("p", { role: "status", text: "Loading indications..." }));
    try {
      this.indications = await getJson("/api/v1/protocols/indications");
    } catch (error) {
      this.indications = null;
      this.section.replaceChildren(el("p", { class: "error", role: "alert", text: `Unavailable: ${error.message}` }));
      return;
    }
    this.build();
  }

  build() {
    const indication = select("indication", this.indications.map((i) => [i.code, i.name]), "Indication");
    const form = el("form", { id: "protocol-form", class: "card protocol-form", "aria-labelledby": "protocol-title" },
      el("h2", { id: "protocol-title", text: "Imaging protocol" }),
      el("p", { class: "muted", text: "Decision support before ordering: the examinations for this patient, ranked and explained, with the guideline behind each." }),
      field("Indication", indication),
      el("div", { class: "protocol-row" },
        field("Age (years)", number("age", "Age in years", { min: 0, max: 120, required: true })),
        field("Sex", select("sex", [["female", "female"], ["male", "male"], ["other", "other"]], "Sex")),
        field("Pregnant", select("pregnant", [["", "not stated"], ["true", "yes"], ["false", "no"]], "Pregnant")),
        field("Weight (kg)", number("weight_kg", "Weight in kg", { min: 1, max: 400 }))),
      el("fieldset", { id: "protocol-findings", class: "protocol-findings" }, el("legend", { text: "Findings" })),
      el("div", { class: "protocol-row" },
        field("Smoking", select("smoking", [["never", "never"], ["current", "current"], ["former", "former"]], "Smoking status")),
        field("Pack-years", number("pack_years", "Pack-years", { min: 0, max: 300 })),
        field("Years since quitting", number("years_since_quit", "Years since quitting", { min: 0, max: 100 })),
        field("Years smoked", number("years_smoked", "Years smoked", { min: 0, max: 100 }))),
      el("div", { class: "protocol-row" },
        field("eGFR (mL/min/1.73 m²)", number("egfr", "eGFR", { min: 0, max: 200 })),
        field("On dialysis", el("input", { type: "checkbox", name: "on_dialysis", "aria-label": "On dialysis" })),
        field("Claustrophobia", el("input", { type: "checkbox", name: "claustrophobia", "aria-label": "Claustrophobia" })),
        field("Implant", select("implant", [["", "none"], ["safe", "MR Safe"], ["conditional", "MR Conditional"], ["unsafe", "MR Unsafe"]], "Implant MR status"))),
      checkboxes("contrast_allergy", ["iodinated", "gadolinium"], "Contrast allergy"),
      checkboxes("family_history", FAMILY, "Family history"),
      checkboxes("history", HISTORY, "History"),
      el("button", { type: "submit", text: "Recommend" }),
      el("p", { id: "protocol-error", class: "error", role: "alert" }));
    const result = el("section", { id: "protocol-result", class: "protocol-result", "aria-live": "polite", "aria-label": "Recommendations" });
    this.section.replaceChildren(el("div", { class: "protocol-layout" }, form, result));
    indication.addEventListener("change", () => this.findings(indication.value));
    this.findings(indication.value);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit(form, result);
    });
  }

  /** The inputs for the chosen indication's findings, each of the type the rules declare. */
  findings(code) {
    const box = this.section.querySelector("#protocol-findings");
    const specs = this.indications.find((i) => i.code === code)?.findings || {};
    box.replaceChildren(el("legend", { text: "Findings" }));
    if (!Object.keys(specs).length) box.append(el("p", { class: "muted", text: "This indication reads no findings." }));
    for (const [name, spec] of Object.entries(specs)) {
      const label = `${words(name)}${spec.unit ? ` (${spec.unit})` : ""}`;
      let input;
      if (spec.type === "number") input = number(`finding:${name}`, label, { min: spec.min, max: spec.max });
      else if (spec.type === "boolean") input = select(`finding:${name}`, [["", "not stated"], ["true", "yes"], ["false", "no"]], label);
      else if (spec.type === "code") input = select(`finding:${name}`, [["", "not stated"], ...spec.values.map((v) => [v, words(v)])], label);
      if (input) {
        box.append(field(label, input), el("small", { class: "muted", text: spec.description }));
      } else {
        const set = checkboxes(`finding:${name}`, spec.values, label);
        set.append(el("small", { class: "muted", text: `${spec.description}` }));
        box.append(set);
      }
    }
  }

  /** The profile, with the issue's field names; fields left empty are left out (the service then says what it needs). */
  profile(form) {
    const data = new FormData(form);
    const value = (name) => (data.get(name) ?? "").toString().trim();
    const num = (name) => (value(name) === "" ? undefined : Number(value(name)));
    const profile = { age: num("age"), sex: value("sex"), indication: value("indication") };
    if (value("pregnant")) profile.pregnant = value("pregnant") === "true";
    if (num("weight_kg") !== undefined) profile.weight_kg = num("weight_kg");
    if (num("egfr") !== undefined) profile.egfr = num("egfr");
    if (data.get("on_dialysis")) profile.on_dialysis = true;
    if (data.get("claustrophobia")) profile.claustrophobia = true;
    if (value("implant")) profile.implants = [{ type: "implant", mri_status: value("implant") }];
    const smoking = value("smoking");
    if (smoking !== "never") {
      profile.smoking = { pack_years: num("pack_years") ?? 0, years_since_quit: smoking === "current" ? null : num("years_since_quit") };
      if (num("years_smoked") !== undefined) profile.smoking.years_smoked = num("years_smoked");
    }
    for (const name of ["contrast_allergy", "family_history", "history"]) {
      const codes = checked(form, name);
      if (codes.length) profile[name] = codes;
    }
    const findings = {};
    const specs = this.indications.find((i) => i.code === profile.indication)?.findings || {};
    for (const [name, spec] of Object.entries(specs)) {
      if (spec.type === "codes") {
        findings[name] = checked(form, `finding:${name}`);
        continue;
      }
      const raw = value(`finding:${name}`);
      if (raw === "") continue;
      findings[name] = spec.type === "number" ? Number(raw) : spec.type === "boolean" ? raw === "true" : raw;
    }
    profile.findings = findings;
    return profile;
  }

  async submit(form, result) {
    const error = form.querySelector("#protocol-error");
    error.textContent = "";
    result.replaceChildren(el("p", { role: "status", text: "Recommending..." }));
    try {
      this.render(result, await postJson("/api/v1/protocols/recommend", this.profile(form)));
    } catch (problem) {
      result.replaceChildren();
      error.textContent = problem.message; // names the field, never a value
    }
  }

  render(result, answer) {
    const parts = [el("h2", { text: `${answer.indication.name}: ${answer.pathway} pathway` })];
    if (answer.status === "needs_input") {
      const list = el("ul", { class: "protocol-missing", "aria-label": "Fields needed" });
      for (const missing of answer.missing) list.append(el("li", {}, el("strong", { text: missing.field }), `: ${missing.reason}`));
      parts.push(el("p", { role: "alert", text: "No recommendation yet: the profile lacks a deciding field." }), list);
    }
    if (answer.warnings.length) {
      const list = el("ul", { class: "protocol-warnings", "aria-label": "Warnings" });
      for (const warning of answer.warnings) {
        list.append(el("li", { class: `severity-${warning.severity}`, "data-code": warning.code },
          el("strong", { text: `${warning.severity}: ` }), warning.message));
      }
      parts.push(list);
    }
    const ranked = el("ol", { class: "protocol-recommendations", "aria-label": "Ranked examinations" });
    for (const rec of answer.recommendations) ranked.append(this.recommendation(rec));
    parts.push(ranked);
    if (answer.assumptions.length) {
      const list = el("ul", { class: "protocol-assumptions", "aria-label": "Assumptions" });
      for (const a of answer.assumptions) list.append(el("li", {}, el("strong", { text: a.field }), `: ${a.statement}`));
      parts.push(el("h3", { text: "Assumptions" }), list);
    }
    for (const risk of Object.values(answer.risk || {})) {
      const value = risk.percent === null ? `not computed (${risk.missing.join("; ")})` : `${risk.percent}% over ${risk.horizon}`;
      parts.push(el("p", { class: "protocol-risk" }, el("strong", { text: `${risk.model}: ` }), value));
    }
    if (answer.fhir_service_request) {
      parts.push(el("details", {}, el("summary", { text: "FHIR ServiceRequest draft" }),
        el("pre", { class: "protocol-fhir", text: JSON.stringify(answer.fhir_service_request, null, 2) })));
    }
    parts.push(el("p", { class: "muted", text: `Knowledge base ${answer.knowledge_base_version}. ${answer.disclaimer}` }));
    result.replaceChildren(...parts);
  }

  recommendation(rec) {
    const rrl = rec.relative_radiation_level;
    const item = el("li", { class: `protocol-rec category-${rec.appropriateness.rating >= 7 ? "high" : rec.appropriateness.rating >= 4 ? "mid" : "low"}` },
      el("h3", { text: rec.procedure }),
      el("p", { class: "protocol-meta", text: `${rec.appropriateness.rating}/9 ${rec.appropriateness.category} · ${rec.modality} · contrast ${rec.contrast} · radiation level ${rrl.level} (${rrl.effective_dose_range}, ${rrl.scale})` }));
    const outcome = rec.expected_outcome;
    let shows = outcome.shows;
    if (outcome.sensitivity !== undefined && outcome.sensitivity !== null) {
      shows += ` Sensitivity ${Math.round(outcome.sensitivity * 100)}%, specificity ${Math.round(outcome.specificity * 100)}% for ${outcome.for}.`;
    }
    item.append(el("p", { text: shows }));
    if (outcome.note) item.append(el("p", { class: "muted", text: `When: ${outcome.note}` }));
    if (rec.adjustments.length) {
      const list = el("ul", { class: "protocol-adjustments", "aria-label": "Protocol adjustments" });
      for (const adjustment of rec.adjustments) list.append(el("li", { text: adjustment }));
      item.append(list);
    }
    const reasons = el("ul", { class: "protocol-reasons", "aria-label": "Reasons" });
    for (const reason of rec.reasons) {
      const link = el("a", { href: reason.citation.url, target: "_blank", rel: "noopener noreferrer", text: reason.citation.title });
      reasons.append(el("li", {}, `${reason.statement} `, link));
    }
    item.append(el("details", {}, el("summary", { text: "Why" }), reasons));
    return item;
  }
}
