// The app: sign-in, worklist and viewer, switched by the location hash (#worklist, #study/<uid>).
// The token lives in sessionStorage; the hash never carries it.

import { setUnauthorizedHandler, whoAmI } from "./api.js";
import { clearToken, getToken, setToken } from "./session.js";
import { Live } from "./live.js";
import { Results } from "./results.js";
import { Uploader } from "./upload.js";
import { Viewer } from "./viewer.js";
import { Worklist } from "./worklist.js";

const $ = (id) => document.getElementById(id);
const VIEWS = ["view-signin", "view-worklist", "view-viewer", "view-live"];

const viewer = new Viewer();
const results = new Results(viewer);
const worklist = new Worklist((uid) => { location.hash = `#study/${encodeURIComponent(uid)}`; });
new Uploader(() => worklist.refresh());
const live = new Live();

function showView(id) {
  for (const view of VIEWS) $(view).hidden = view !== id;
}

function signedIn(me) {
  $("whoami").textContent = `${me.actor} (${me.role})`;
  $("sign-out").hidden = false;
  $("nav-worklist").hidden = false;
  $("nav-live").hidden = !me.scopes.includes("streams:write");
}

function signOut(message = "") {
  clearToken();
  worklist.hide();
  results.close();
  viewer.close();
  $("whoami").textContent = "";
  $("sign-out").hidden = true;
  $("nav-worklist").hidden = true;
  $("nav-live").hidden = true;
  live.stop();
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
  const study = /^#study\/(.+)$/.exec(location.hash);
  if (location.hash !== "#live") live.stop();
  if (location.hash === "#live") {
    worklist.hide();
    results.close();
    viewer.close();
    showView("view-live");
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

if (getToken()) {
  whoAmI().then((me) => { signedIn(me); route(); }).catch(() => signOut());
} else {
  route();
}
