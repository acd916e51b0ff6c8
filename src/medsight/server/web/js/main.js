// The app: sign-in, worklist and viewer, switched by the location hash (#worklist, #study/<uid>).
// The token lives in sessionStorage; the hash never carries it, except a share link's
// (#share=<token>), which is exchanged at once for a session token and taken out of the address bar.

import { setUnauthorizedHandler, whoAmI } from "./api.js";
import { Consent } from "./consent.js";
import { clearToken, getToken, setToken } from "./session.js";
import { Live } from "./live.js";
import { Protocols } from "./protocols.js";
import { Results } from "./results.js";
import { Uploader } from "./upload.js";
import { Viewer } from "./viewer.js";
import { Worklist } from "./worklist.js";

const $ = (id) => document.getElementById(id);
const SHARE_KEY = "medsight.share"; // the one study a share link opened, in this tab
const VIEWS = ["view-signin", "view-worklist", "view-viewer", "view-live", "view-consent", "view-protocols"];

const viewer = new Viewer();
const results = new Results(viewer);
const worklist = new Worklist((uid) => { location.hash = `#study/${encodeURIComponent(uid)}`; });
new Uploader(() => worklist.refresh());
const live = new Live();
const protocols = new Protocols($("view-protocols"));
const consent = new Consent();

function showView(id) {
  for (const view of VIEWS) $(view).hidden = view !== id;
}

function signedIn(me) {
  const shared = sessionStorage.getItem(SHARE_KEY);
  $("whoami").textContent = shared ? "shared study (read-only)" : `${me.actor} (${me.role})`;
  $("sign-out").hidden = false;
  $("nav-worklist").hidden = Boolean(shared);
  $("nav-live").hidden = !me.scopes.includes("streams:write");
  $("nav-protocols").hidden = Boolean(shared) || !me.scopes.includes("protocols:read");
  consent.signedIn(me.scopes);
}

function signOut(message = "") {
  clearToken();
  sessionStorage.removeItem(SHARE_KEY);
  worklist.hide();
  results.close();
  viewer.close();
  $("whoami").textContent = "";
  $("sign-out").hidden = true;
  $("nav-worklist").hidden = true;
  $("nav-live").hidden = true;
  $("nav-protocols").hidden = true;
  live.stop();
  consent.signedOut();
  $("signin-error").textContent = message;
  if (location.hash) history.replaceState(null, "", location.pathname);
  route();
}

async function openStudy(uid) {
  results.close();
  viewer.close();
  showView("view-viewer");
  const analysed = await results.open(uid);
  try {
    await viewer.open(uid, analysed);
  } catch (error) {
    viewer.status(error.status === 403 ? "Your role may see this study's results but not its images." : `Images unavailable: ${error.message}`);
  }
  $("image-canvas").focus();
}

function route() {
  if (!getToken()) {
    showView("view-signin");
    $("token-input").focus();
    return;
  }
  const shared = sessionStorage.getItem(SHARE_KEY);
  if (shared && location.hash !== `#study/${encodeURIComponent(shared)}`) {
    location.hash = `#study/${encodeURIComponent(shared)}`; // a share shows its one study, nothing else
    return;
  }
  const study = /^#study\/(.+)$/.exec(location.hash);
  if (location.hash !== "#live") live.stop();
  if (location.hash === "#live") {
    worklist.hide();
    results.close();
    viewer.close();
    showView("view-live");
  } else if (location.hash === "#protocols") {
    worklist.hide();
    results.close();
    viewer.close();
    showView("view-protocols");
    protocols.show();
  } else if (location.hash === "#consent" && consent.allowed) {
    worklist.hide();
    results.close();
    viewer.close();
    showView("view-consent");
    consent.show();
  } else if (study) {
    worklist.hide();
    openStudy(decodeURIComponent(study[1]));
  } else {
    results.close();
    viewer.close();
    showView("view-worklist");
    worklist.show();
  }
}

$("signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("token-input");
  setToken(input.value.trim());
  input.value = "";
  try {
    signedIn(await whoAmI());
    $("signin-error").textContent = "";
    route();
  } catch (error) {
    clearToken();
    $("signin-error").textContent = `Sign-in failed: ${error.message}`;
  }
});

$("sign-out").addEventListener("click", () => signOut());
$("back-to-worklist").addEventListener("click", () => { location.hash = "#worklist"; });
setUnauthorizedHandler(() => signOut("Your session ended (token expired or revoked). Sign in again."));
window.addEventListener("hashchange", route);

/** Trade a share link's token (no account needed) for a session on its one study. */
async function openShareLink(token) {
  history.replaceState(null, "", location.pathname);
  const response = await fetch("/api/v1/shares/open", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.message || response.statusText);
  setToken(body.session_token);
  sessionStorage.setItem(SHARE_KEY, body.study_uid);
  history.replaceState(null, "", `${location.pathname}#study/${encodeURIComponent(body.study_uid)}`);
}

const shareLink = /^#share=(.+)$/.exec(location.hash);
if (shareLink) {
  openShareLink(decodeURIComponent(shareLink[1]))
    .then(() => whoAmI())
    .then((me) => { signedIn(me); route(); })
    .catch((error) => signOut(`The share link could not be opened: ${error.message}`));
} else if (getToken()) {
  whoAmI().then((me) => { signedIn(me); route(); }).catch(() => signOut());
} else {
  route();
}
