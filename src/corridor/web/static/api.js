// The API client: the observer key, authenticated GETs, and problem+json errors.
//
// The key arrives in the URL fragment (`corridor up` prints http://127.0.0.1:<port>/#key=<observer key>), which a
// browser never sends to a server, so it reaches no log. It is moved at once into sessionStorage (this tab only,
// gone when it closes) and the fragment is removed from the address bar, so a screenshot or a shared screen shows
// no key. The page sends it only as `Authorization: Bearer`, to its own origin, and never displays it.

import { parseJson } from "./json.js";

const STORAGE = "corridor.dashboard.key";

export class ApiError extends Error {
  constructor(status, title, detail) {
    super(detail ? `${title}: ${detail}` : title);
    this.status = status;
    this.title = title;
    this.detail = detail;
  }

  /** The key is missing, unknown (401) or lacks the scope (403): the page cannot show its data without a new one. */
  get refused() {
    return this.status === 401 || this.status === 403;
  }
}

/** Take the key from the URL fragment if it is there (then clear the fragment), else from this tab's storage. */
export function takeKey(location = window.location, history = window.history, storage = window.sessionStorage) {
  const fragment = new URLSearchParams(location.hash.replace(/^#/, ""));
  const given = fragment.get("key");
  if (given) {
    storage.setItem(STORAGE, given.trim());
    history.replaceState(null, "", location.pathname + location.search);
  }
  return storage.getItem(STORAGE);
}

export function storeKey(key, storage = window.sessionStorage) {
  storage.setItem(STORAGE, key.trim());
}

export function forgetKey(storage = window.sessionStorage) {
  storage.removeItem(STORAGE);
}

export class Api {
  constructor(key) {
    this.key = key;
  }

  /** GET `path` and parse the answer (integers exact); `{data, text}` so callers can skip redrawing the same text. */
  async get(path) {
    let response;
    try {
      response = await fetch(path, {
        headers: { Authorization: `Bearer ${this.key}`, Accept: "application/json" },
        cache: "no-store",
        credentials: "omit",
        redirect: "error",
      });
    } catch {
      throw new ApiError(0, "The API does not answer", "is `corridor up` still running? The page keeps retrying.");
    }
    const text = await response.text();
    if (!response.ok) throw problemOf(response, text);
    try {
      return { data: parseJson(text), text };
    } catch (error) {
      throw new ApiError(response.status, "Unreadable answer", error.message);
    }
  }
}

/** An ApiError from a failed answer: the problem document's title and detail (RFC 9457) when there is one. */
function problemOf(response, text) {
  let title = `HTTP ${response.status}`;
  let detail = response.statusText || "";
  try {
    const problem = parseJson(text);
    if (problem && typeof problem === "object") {
      if (typeof problem.title === "string") title = problem.title;
      if (typeof problem.detail === "string") detail = problem.detail;
    }
  } catch {
    // not problem+json (a proxy's page, say): keep the status line
  }
  return new ApiError(response.status, title, detail);
}
