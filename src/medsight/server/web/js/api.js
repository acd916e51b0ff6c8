// Calls to the medsight service with the reader's bearer token; errors are the service's problems.

import { clearToken, getToken } from "./session.js";
import { parseMultipart } from "./multipart.js";

/** An error answered by the service (application/problem+json) or by the network. */
export class ApiError extends Error {
  constructor(status, code, message, requestId) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId;
  }
}

let onUnauthorized = () => {};

/** What to do when the token stops working (expired, revoked): the app signs out. */
export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

async function problem(response) {
  let body = {};
  try {
    body = await response.json();
  } catch {
    // not JSON: keep the status alone
  }
  const message = body.message || `${response.status} ${response.statusText}`;
  return new ApiError(response.status, body.code || `http.${response.status}`, message, body.request_id);
}

/** fetch() with the token; resolves to the Response when it is 2xx, else throws ApiError. */
export async function request(path, options = {}) {
  const headers = new Headers(options.headers || {});
  const token = getToken();
  if (token) headers.set("Authorization", `Bearer ${token}`);
  const response = await fetch(path, { ...options, headers, cache: "no-store" });
  if (response.ok) return response;
  const error = await problem(response);
  if (response.status === 401) {
    clearToken();
    onUnauthorized(error);
  }
  throw error;
}

export async function getJson(path, accept = "application/json") {
  return (await request(path, { headers: { Accept: accept } })).json();
}

export async function postJson(path, body) {
  const response = await request(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
  });
  return response.json();
}

export async function getBlob(path, accept) {
  return (await request(path, { headers: { Accept: accept } })).blob();
}

/** The parts of a multipart/related answer (WADO-RS frames), as ArrayBuffers. */
export async function getParts(path, partType) {
  const response = await request(path, { headers: { Accept: `multipart/related; type="${partType}"` } });
  const contentType = response.headers.get("Content-Type") || "";
  return parseMultipart(await response.arrayBuffer(), contentType);
}

/** Who the token belongs to: {actor, role, scopes}. */
export function whoAmI() {
  return getJson("/api/v1/me");
}
