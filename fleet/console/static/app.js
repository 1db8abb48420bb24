// The console's shell: sign-in, navigation, language switch and the live-update loop.
// Pages live in pages/*.js; each mounts into <main> and refreshes itself when asked.

import { api, ApiError, session, signIn } from "./api.js";
import { h, replace } from "./dom.js";
import { formatClock, language, loadStrings, setLanguage, t } from "./i18n.js";
import overview from "./pages/overview.js";
import alerts from "./pages/alerts.js";
import wristbands from "./pages/wristbands.js";
import batteryPage from "./pages/battery.js";
import gateways from "./pages/gateways.js";
import dispatch from "./pages/dispatch.js";
import risk from "./pages/risk.js";

// How often the console asks the fleet for news. A new alert shows within this long.
export const POLL_MS = 5000;
// Names of residents and communities change rarely.
const DIRECTORY_MS = 60000;

const PAGES = [overview, alerts, wristbands, batteryPage, gateways, dispatch, risk];
const root = document.getElementById("app");

const state = {
  me: null,
  page: null, // {module, view, params, refreshedAt}
  directoryAt: 0,
  residents: new Map(),
  communities: new Map(),
  contacts: new Map(),
  timer: null,
  polling: false,
  online: true,
  updatedAt: null,
};

const ctx = {
  get me() {
    return state.me;
  },
  get isStaff() {
    return state.me && (state.me.role === "admin" || state.me.role === "staff");
  },
  residentName(id) {
    if (!id) return t("dash");
    const resident = state.residents.get(id);
    return resident ? resident.display_name : id;
  },
  resident(id) {
    return state.residents.get(id);
  },
  get residents() {
    return [...state.residents.values()];
  },
  contactName(id) {
    if (!id) return t("dash");
    return state.contacts.get(id) || id;
  },
  communityName(id) {
    if (!id) return t("dash");
    return state.communities.get(id) || id;
  },
  get communities() {
    return [...state.communities.entries()].map(([id, name]) => ({ id, name }));
  },
  navigate(hash) {
    if (location.hash === hash) route();
    else location.hash = hash;
  },
  // After an action (acknowledge, import …): show its effect now, not at the next poll.
  async refreshNow() {
    await poll(true);
  },
};

async function loadDirectory(force = false) {
  if (!force && Date.now() - state.directoryAt < DIRECTORY_MS) return;
  state.directoryAt = Date.now();
  // Each list is what the API lets this user see; one that fails leaves ids showing.
  const [residents, communities, contacts] = await Promise.all([
    api("/api/v1/residents").catch(() => null),
    ctx.isStaff ? api("/api/v1/communities").catch(() => null) : null,
    api("/api/v1/caregivers").catch(() => null),
  ]);
  if (Array.isArray(residents)) state.residents = new Map(residents.map((r) => [r.id, r]));
  if (Array.isArray(communities)) state.communities = new Map(communities.map((c) => [c.id, c.name]));
  if (Array.isArray(contacts)) state.contacts = new Map(contacts.map((c) => [c.id, c.display_name]));
}

// -- sign-in -------------------------------------------------------------------------

function renderSignIn(message) {
  stopPolling();
  state.me = null;
  const error = h("p", { class: "error", role: "alert", id: "signin-error" }, message || "");
  const username = h("input", { id: "username", name: "username", autocomplete: "username", required: true });
  const password = h("input", {
    id: "password",
    name: "password",
    type: "password",
    autocomplete: "current-password",
    required: true,
  });
  const token = h("input", { id: "token", name: "token", type: "password", autocomplete: "off" });
  const form = h(
    "form",
    {
      class: "card signin",
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          await signIn(username.value.trim(), password.value);
          password.value = "";
          await start();
        } catch (exc) {
          replace(error, t("signin.failed", { message: exc.message }));
        }
      },
    },
    h("h1", null, t("signin.title")),
    h("label", { for: "username" }, t("signin.username")),
    username,
    h("label", { for: "password" }, t("signin.password")),
    password,
    h("button", { type: "submit", id: "signin-submit" }, t("signin.submit")),
  );
  const tokenForm = h(
    "form",
    {
      class: "card signin",
      onsubmit: async (event) => {
        event.preventDefault();
        session.set(token.value.trim());
        token.value = "";
        await start();
      },
    },
    h("p", null, t("signin.or_token")),
    h("label", { for: "token" }, t("signin.token")),
    token,
    h("button", { type: "submit", id: "token-submit" }, t("signin.use_token")),
  );
  replace(
    root,
    header(false),
    h("main", { class: "signin-page" }, error, form, tokenForm, h("p", { class: "muted" }, t("signin.note"))),
  );
  username.focus();
}

// -- shell ---------------------------------------------------------------------------

function languageButton() {
  return h(
    "button",
    {
      type: "button",
      id: "language",
      class: "link",
      lang: language() === "en" ? "zh-CN" : "en",
      onclick: () => {
        setLanguage(language() === "en" ? "zh-CN" : "en");
        document.title = t("app.title");
        if (state.me) renderShell();
        else renderSignIn();
      },
    },
    t("app.switch_language"),
  );
}

function header(signedIn) {
  const right = [languageButton()];
  if (signedIn) {
    right.unshift(
      h("span", { class: "who", id: "who" }, t("app.signed_in_as", {
        user: state.me.subject,
        role: t(`role.${state.me.role}`),
      })),
    );
    right.push(
      h("button", { type: "button", class: "link", id: "sign-out", onclick: signOut }, t("app.sign_out")),
    );
  }
  return h(
    "header",
    { class: "top" },
    h("div", { class: "brand" }, h("strong", null, t("app.brand")), " ", h("span", null, t("app.subtitle"))),
    h("div", { class: "right" }, right),
  );
}

function visiblePages() {
  return PAGES.filter((page) => !page.staffOnly || ctx.isStaff);
}

function renderShell() {
  document.title = t("app.title");
  const nav = h(
    "nav",
    { class: "pages" },
    visiblePages().map((page) =>
      h("a", { href: `#/${page.id}`, id: `nav-${page.id}`, dataset: { page: page.id } }, t(page.nav)),
    ),
    h("span", { class: "badge alert-count hidden", id: "open-alerts", role: "status" }),
  );
  const status = h(
    "footer",
    { class: "status" },
    h("span", { id: "updated" }),
    h("span", { class: "muted" }, t("app.timezone")),
  );
  replace(
    root,
    header(true),
    nav,
    h("div", { id: "offline", class: "banner hidden", role: "alert" }, t("app.offline")),
    h("main", { id: "page" }),
    status,
  );
  state.page = null;
  route();
}

async function route() {
  if (!state.me) return;
  const [id, ...params] = (location.hash.replace(/^#\/?/, "") || "overview").split("/");
  const module = visiblePages().find((page) => page.id === id) || visiblePages()[0];
  for (const link of document.querySelectorAll("nav.pages a")) {
    link.classList.toggle("active", link.dataset.page === module.id);
  }
  const main = document.getElementById("page");
  if (state.page && state.page.module === module && state.page.view.update) {
    state.page.params = params;
    await state.page.view.update(params);
    return;
  }
  if (state.page && state.page.view.unmount) state.page.view.unmount();
  // Each page gets a container of its own: a refresh of the page just left that
  // finishes late writes into its detached container, not over the new page.
  const container = h("div", { class: "page", id: `page-${module.id}` }, h("p", { class: "muted" }, t("app.loading")));
  replace(main, container);
  const view = module.mount(container, ctx, params);
  state.page = { module, view, params, refreshedAt: 0 };
  await poll(true);
}

// -- live updates ----------------------------------------------------------------------

async function refreshBadge() {
  const counts = await api("/api/v1/overview");
  const waiting = counts.unresolved_by_state.open + counts.unresolved_by_state.notified;
  const badge = document.getElementById("open-alerts");
  if (!badge) return;
  badge.classList.toggle("hidden", waiting === 0);
  replace(badge, t("nav.open_alerts", { count: waiting }));
}

function showOnline(online) {
  state.online = online;
  const banner = document.getElementById("offline");
  if (banner) banner.classList.toggle("hidden", online);
  const updated = document.getElementById("updated");
  if (updated && online) replace(updated, t("app.updated", { time: formatClock(new Date()) }));
}

async function poll(force = false) {
  if (!state.me || (state.polling && !force)) return;
  state.polling = true;
  try {
    await loadDirectory();
    const page = state.page;
    const jobs = [refreshBadge()];
    if (page && (force || Date.now() - page.refreshedAt >= (page.module.pollMs || POLL_MS) - 100)) {
      page.refreshedAt = Date.now();
      jobs.push(page.view.refresh());
    }
    await Promise.all(jobs);
    showOnline(true);
  } catch (exc) {
    if (exc instanceof ApiError && exc.status !== 401) {
      showOnline(true);
      console.warn("console: refresh failed", exc.status, exc.message);
    } else if (!(exc instanceof ApiError)) {
      showOnline(false);
    }
  } finally {
    state.polling = false;
  }
}

function schedule() {
  stopPolling();
  state.timer = setTimeout(async () => {
    if (document.visibilityState !== "hidden") await poll();
    schedule();
  }, POLL_MS);
}

function stopPolling() {
  if (state.timer) clearTimeout(state.timer);
  state.timer = null;
}

function signOut() {
  session.clear();
  if (state.page && state.page.view.unmount) state.page.view.unmount();
  state.page = null;
  renderSignIn();
}

async function start() {
  if (!session.token) {
    renderSignIn();
    return;
  }
  try {
    state.me = await api("/api/v1/me");
  } catch (exc) {
    session.clear();
    renderSignIn(exc instanceof ApiError ? t("signin.failed", { message: exc.message }) : "");
    return;
  }
  state.directoryAt = 0;
  await loadDirectory(true);
  renderShell();
  schedule();
}

window.addEventListener("hashchange", route);
window.addEventListener("sg:signed-out", () => renderSignIn());
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") poll();
});

await loadStrings();
document.title = t("app.title");
await start();
