// The fleet's API, with the signed-in user's bearer token. The token lives in this
// tab's sessionStorage only: never in a URL, a cookie or a log line.

const TOKEN_KEY = "sg.token";

export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  set(token) {
    sessionStorage.setItem(TOKEN_KEY, token);
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
  },
};

export class ApiError extends Error {
  constructor(status, message, data) {
    super(message);
    this.status = status;
    this.data = data;
  }
}

// FastAPI's detail: a sentence, or a list of {loc, msg} for a request that failed validation.
function describe(data, status) {
  const detail = data && typeof data === "object" ? data.detail : data;
  if (Array.isArray(detail)) {
    return detail
      .map((d) => `${(d.loc || []).filter((p) => p !== "body").join(".")}: ${d.msg}`)
      .join("; ");
  }
  if (typeof detail === "string" && detail) return detail;
  return `HTTP ${status}`;
}

export async function api(path, { method = "GET", json, body, headers } = {}) {
  const sent = { ...(headers || {}) };
  const token = session.token;
  if (token) sent.Authorization = `Bearer ${token}`;
  let payload = body;
  if (json !== undefined) {
    sent["Content-Type"] = "application/json";
    payload = JSON.stringify(json);
  }
  const response = await fetch(path, {
    method,
    headers: sent,
    body: payload,
    cache: "no-store",
    credentials: "omit",
  });
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json() : await response.text();
  if (response.status === 401 && token) {
    session.clear();
    window.dispatchEvent(new CustomEvent("sg:signed-out"));
  }
  if (!response.ok) throw new ApiError(response.status, describe(data, response.status), data);
  return data;
}

// OAuth2 password flow: the form fields the fleet's /api/v1/auth/token expects.
export async function signIn(username, password) {
  const data = await api("/api/v1/auth/token", {
    method: "POST",
    body: new URLSearchParams({ username, password }),
  });
  session.set(data.access_token);
  return data;
}
