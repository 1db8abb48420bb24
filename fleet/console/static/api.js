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

async function request(path, { method = "GET", json, body, headers } = {}) {
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
  return { data, response };
}

export async function api(path, options) {
  return (await request(path, options)).data;
}

// A page of a list: the rows and how many match in all (the X-Total-Count header).
export async function apiList(path) {
  const { data, response } = await request(path);
  const total = Number(response.headers.get("X-Total-Count"));
  const rows = Array.isArray(data) ? data : data.bands || [];
  return { data, rows, total: Number.isFinite(total) ? total : rows.length };
}

// A CSV export: fetched with the bearer token (a plain link would carry none), then
// handed to the browser as a download.
export async function download(path, filename) {
  const headers = {};
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  const response = await fetch(path, { headers, cache: "no-store", credentials: "omit" });
  if (!response.ok) throw new ApiError(response.status, `HTTP ${response.status}`, null);
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
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
