// The consent page (#consent): what a patient agreed to, per purpose, and every decision
// recorded, with a form to record a grant or a withdrawal (issue 8).
//
// Patients are named by pseudonym (ANON-...). A Patient ID is looked up with a POST, in
// the body, so it never sits in a URL, the browser's history or an access log; the page
// then works with the pseudonym the service answers, and records by it. Looking up by
// Patient ID needs consents:write (it links a Patient ID to its pseudonym): readers such
// as auditors look up by pseudonym only. Nothing is kept once the user signs out.

import { getJson, postJson } from "./api.js";

const $ = (id) => document.getElementById(id);
const PREFIX = "ANON-";

/** The purposes as the API names them, with the words the page shows. */
export const PURPOSES = [
  ["clinical-care", "Clinical care"],
  ["research-export", "Research export"],
  ["model-training", "Model training"],
  ["sharing", "Sharing with a named party"],
];
const LABEL = Object.fromEntries(PURPOSES);

function cell(content) {
  const td = document.createElement("td");
  if (content instanceof Node) td.append(content);
  else td.textContent = content ?? "";
  return td;
}

function when(iso) {
  const time = document.createElement("time");
  time.dateTime = iso;
  time.textContent = new Date(iso).toLocaleString();
  return time;
}

function stateText(granted) {
  const span = document.createElement("span");
  span.className = granted ? "consent-granted" : "consent-withdrawn";
  span.textContent = granted ? "Granted" : "Withdrawn";
  return span;
}

/** The rows of the "in force" table: every purpose, "no decision" where none was recorded. */
export function inForceRows(inForce) {
  const rows = inForce.map((item) => ({ purpose: item.purpose, party: item.party, granted: item.granted }));
  for (const [purpose] of PURPOSES) {
    if (!rows.some((row) => row.purpose === purpose)) rows.push({ purpose, party: null, granted: null });
  }
  const order = PURPOSES.map(([purpose]) => purpose);
  return rows.sort((a, b) => order.indexOf(a.purpose) - order.indexOf(b.purpose) || (a.party || "").localeCompare(b.party || ""));
}

/** A problem from the service as one sentence, with hints where the user can act on it. */
function explain(error) {
  if (error.code === "privacy.no_key") {
    return "This service has no de-identification key, so it cannot turn a Patient ID into a pseudonym: look the patient up by pseudonym.";
  }
  if (error.status === 403) return "Your role may not do this.";
  return error.code ? `${error.message} (${error.code})` : error.message;
}

export class Consent {
  constructor() {
    this.pseudonym = null;
    this.allowed = false;
    this.canWrite = false;
    $("consent-lookup").addEventListener("submit", (event) => {
      event.preventDefault();
      this.lookup();
    });
    $("consent-by").addEventListener("change", () => this.describeLookup());
    $("consent-purpose").addEventListener("change", () => this.describeForm());
    for (const radio of document.querySelectorAll("#consent-record input[name=decision]")) {
      radio.addEventListener("change", () => this.describeForm());
    }
    $("consent-record").addEventListener("submit", (event) => {
      event.preventDefault();
      this.record();
    });
  }

  /** After sign-in: the nav link for roles that may read consent, the form for those that may record it. */
  signedIn(scopes) {
    this.allowed = scopes.includes("consents:read");
    this.canWrite = scopes.includes("consents:write");
    $("nav-consent").hidden = !this.allowed;
    $("consent-by-patient-id").disabled = !this.canWrite;
    $("consent-by-note").hidden = this.canWrite;
    $("consent-record").hidden = !this.canWrite;
    if (!this.canWrite) $("consent-by").value = "pseudonym";
    this.describeLookup();
    this.describeForm();
  }

  /** On sign-out: forget the patient and every field. */
  signedOut() {
    this.allowed = false;
    this.canWrite = false;
    $("nav-consent").hidden = true;
    this.pseudonym = null;
    $("consent-lookup").reset();
    $("consent-record").reset();
    $("consent-patient-panel").hidden = true;
    for (const id of ["consent-lookup-error", "consent-record-status", "consent-record-error"]) $(id).textContent = "";
  }

  show() {
    if (!this.pseudonym) $("consent-patient").focus();
  }

  describeLookup() {
    const byId = $("consent-by").value === "patient_id";
    const input = $("consent-patient");
    input.placeholder = byId ? "the Patient ID the hospital uses" : `${PREFIX}...`;
    $("consent-patient-help").textContent = byId
      ? "The Patient ID is sent once, in the request body; the page then works with the pseudonym."
      : `A pseudonym starts with ${PREFIX} (as de-identified exports carry it).`;
  }

  describeForm() {
    const sharing = $("consent-purpose").value === "sharing";
    $("consent-party-field").hidden = !sharing;
    $("consent-party").required = sharing;
    if (!sharing) $("consent-party").value = "";
    const withdraw = this.decision() === "withdraw";
    $("consent-submit").textContent = withdraw ? "Record withdrawal" : "Record grant";
  }

  decision() {
    const checked = document.querySelector("#consent-record input[name=decision]:checked");
    return checked ? checked.value : "grant";
  }

  async lookup() {
    const value = $("consent-patient").value.trim();
    const byId = $("consent-by").value === "patient_id";
    $("consent-lookup-error").textContent = "";
    if (!value) {
      $("consent-lookup-error").textContent = byId ? "Enter a Patient ID." : "Enter a pseudonym.";
      return;
    }
    if (!byId && !value.startsWith(PREFIX)) {
      // Never send what may be a Patient ID in a URL.
      $("consent-lookup-error").textContent = `A pseudonym starts with ${PREFIX}; to use a Patient ID, choose "Patient ID" under "Find by".`;
      return;
    }
    try {
      const answer = byId
        ? await postJson("/api/v1/consents/lookup", { patient_id: value })
        : await getJson(`/api/v1/consents/${encodeURIComponent(value)}`);
      this.render(answer);
      $("consent-record-status").textContent = "";
      $("consent-record-error").textContent = "";
      $("consent-patient-title").focus();
    } catch (error) {
      $("consent-patient-panel").hidden = true;
      this.pseudonym = null;
      $("consent-lookup-error").textContent = `Look-up failed: ${explain(error)}`;
    }
  }

  async reload() {
    this.render(await getJson(`/api/v1/consents/${encodeURIComponent(this.pseudonym)}`));
  }

  render(answer) {
    this.pseudonym = answer.pseudonym;
    $("consent-patient-title").textContent = `Patient ${answer.pseudonym}`;
    $("consent-patient-panel").hidden = false;
    this.renderInForce(answer.in_force);
    this.renderHistory(answer.history);
  }

  renderInForce(inForce) {
    const body = $("consent-in-force").querySelector("tbody");
    body.replaceChildren();
    for (const row of inForceRows(inForce)) {
      const tr = document.createElement("tr");
      const state = row.granted === null ? "No decision: not consented" : stateText(row.granted);
      tr.append(cell(LABEL[row.purpose] || row.purpose), cell(row.party || "\u2014"), cell(state));
      const action = cell("");
      if (this.canWrite) action.append(this.prefillButton(row));
      tr.append(action);
      body.append(tr);
    }
  }

  /** A button that fills the form with the opposite decision for this row (it records nothing itself). */
  prefillButton(row) {
    const button = document.createElement("button");
    button.type = "button";
    const withdraw = row.granted === true;
    button.textContent = withdraw ? "Withdraw\u2026" : "Grant\u2026";
    const what = `${LABEL[row.purpose] || row.purpose}${row.party ? ` (${row.party})` : ""}`;
    button.setAttribute("aria-label", `${withdraw ? "Prepare a withdrawal" : "Prepare a grant"}: ${what}`);
    button.addEventListener("click", () => {
      document.querySelector(`#consent-record input[name=decision][value=${withdraw ? "withdraw" : "grant"}]`).checked = true;
      $("consent-purpose").value = row.purpose;
      this.describeForm();
      if (row.party) $("consent-party").value = row.party;
      $("consent-document").focus();
    });
    return button;
  }

  renderHistory(history) {
    const body = $("consent-history").querySelector("tbody");
    body.replaceChildren();
    for (const item of history) {
      const tr = document.createElement("tr");
      tr.append(
        cell(when(item.recorded_at)),
        cell(LABEL[item.purpose] || item.purpose),
        cell(item.party || "\u2014"),
        cell(stateText(item.state === "granted")),
        cell(item.recorded_by),
        cell(item.document_ref || "\u2014"),
      );
      body.append(tr);
    }
    $("consent-history-empty").hidden = history.length > 0;
  }

  async record() {
    if (!this.pseudonym) return;
    const purpose = $("consent-purpose").value;
    const granted = this.decision() === "grant";
    const documentRef = $("consent-document").value.trim();
    const body = { pseudonym: this.pseudonym, purpose, granted, document_ref: documentRef || null };
    if (purpose === "sharing") body.party = $("consent-party").value;
    $("consent-record-status").textContent = "";
    $("consent-record-error").textContent = "";
    const submit = $("consent-submit");
    submit.disabled = true;
    let made;
    try {
      made = await postJson("/api/v1/consents", body);
    } catch (error) {
      $("consent-record-error").textContent = `Not recorded: ${explain(error)}`;
      return;
    } finally {
      submit.disabled = false;
    }
    const what = `${LABEL[made.purpose]}${made.party ? ` (${made.party})` : ""}`;
    $("consent-record-status").textContent = `Recorded: ${what} ${made.state} for ${made.pseudonym}.`;
    $("consent-document").value = "";
    try {
      await this.reload();
    } catch (error) {
      $("consent-record-error").textContent = `Recorded, but the page could not show it: ${explain(error)}`;
    }
  }
}
