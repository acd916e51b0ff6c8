// The reader's token: in sessionStorage only (this tab), never in a URL, never in localStorage.

const KEY = "medsight.token";

export function getToken() {
  return sessionStorage.getItem(KEY);
}

export function setToken(token) {
  sessionStorage.setItem(KEY, token);
}

export function clearToken() {
  sessionStorage.removeItem(KEY);
}
