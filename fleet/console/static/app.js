// The console's shell: sign-in, navigation, language switch and the live-update loop.
// Pages live in pages/*.js; each mounts into <main> and refreshes itself when asked.

import { api, ApiError, session, signIn } from "./api.js";
import { h, replace } from "./dom.js";
import { formatClock, language, loadStrings, setLanguage, t, term } from "./i18n.js";
import { connectLive } from "./live.js";
import overview from "./pages/overview.js";
import alerts from "./pages/alerts.js";
import wristbands from "./pages/wristbands.js";
import batteryPage from "./pages/battery.js";
import gateways from "./pages/gateways.js";
import residents from "./pages/residents.js";
import resident from "./pages/resident.js";
import dispatch from "./pages/dispatch.js";
import risk from "./pages/risk.js";

// How often the console asks the fleet for news while the live stream is down. A new
// alert shows within this long.
export const POLL_MS = 5000;
// While alerts are pushed (server-sent events), pages still refresh this often for
// what is not an alert (battery, gateways' heartbeats).
export const LIVE_POLL_MS = 60000;
const MUTE_KEY = "sg.mute";
// Names of residents and communities change rarely.
const DIRECTORY_MS = 60000;

const PAGES = [overview, alerts, residents, wristbands, batteryPage, gateways, dispatch, risk, resident];
const root = document.getElementById("app");

const state = {
  me: null,
  page: null, // {module, view, params, refreshedAt}
  directoryAt: 0,
  residents: new Map(),
  communities: new Map(),
  grids: [],
  contacts: new Map(),
  timer: null,
  polling: false,
  online: true,
  updatedAt: null,
  live: null, // the stream's connection, while signed in
  isLive: false,
  liveTimer: null,
  flash: null,
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
  get grids() {
    return state.grids.map((g) => ({ id: g.id, name: `${state.communities.get(g.community_id) || g.community_id} · ${g.name}` }));
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
  // The lists and the resident page name their residents themselves, and the band form
  // searches residents as one types; the directory is still read for the pages that
  // name residents from it (dispatch, risk) — one page of at most 1,000.
  const [residents, communities, contacts, grids] = await Promise.all([
    api("/api/v1/residents?limit=1000").catch(() => null),
    ctx.isStaff ? api("/api/v1/communities").catch(() => null) : null,
    api("/api/v1/caregivers").catch(() => null),
    ctx.isStaff ? api("/api/v1/grids").catch(() => null) : null,
  ]);
  if (Array.isArray(grids)) state.grids = grids;
  if (Array.isArray(residents)) state.residents = new Map(residents.map((r) => [r.id, r]));
  if (Array.isArray(communities)) state.communities = new Map(communities.map((c) => [c.id, c.name]));
  if (Array.isArray(contacts)) state.contacts = new Map(contacts.map((c) => [c.id, c.display_name]));
}

// -- sign-in -------------------------------------------------------------------------

function renderSignIn(message) {
  stopPolling();
  stopLive();
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
      muteButton(),
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

function muted() {
  return localStorage.getItem(MUTE_KEY) === "1";
}

function muteButton() {
  const button = h(
    "button",
    {
      type: "button",
      class: "link",
      id: "mute",
      "aria-pressed": String(muted()),
      onclick: () => {
        localStorage.setItem(MUTE_KEY, muted() ? "0" : "1");
        button.setAttribute("aria-pressed", String(muted()));
        replace(button, muted() ? t("app.sound_off") : t("app.sound_on"));
      },
    },
    muted() ? t("app.sound_off") : t("app.sound_on"),
  );
  return button;
}

function visiblePages() {
  return PAGES.filter((page) => !page.staffOnly || ctx.isStaff);
}

function renderShell() {
  document.title = t("app.title");
  const nav = h(
    "nav",
    { class: "pages" },
    visiblePages().filter((page) => !page.hidden).map((page) =>
      h("a", { href: `#/${page.id}`, id: `nav-${page.id}`, dataset: { page: page.id } }, t(page.nav)),
    ),
    h("span", { class: "badge alert-count hidden", id: "open-alerts", role: "status" }),
  );
  const status = h(
    "footer",
    { class: "status" },
    h("span", { id: "live", dataset: { live: state.isLive ? "sse" : "polling" } }, state.isLive ? t("app.live") : t("app.polling")),
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
    const shown = module.hidden ? "residents" : module.id;
    link.classList.toggle("active", link.dataset.page === shown);
    if (link.dataset.page === shown) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
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
    const module = page ? page.module : {};
    const every = state.isLive ? module.livePollMs || Math.max(LIVE_POLL_MS, module.pollMs || 0) : module.pollMs || POLL_MS;
    const jobs = force || !state.isLive || Date.now() - (state.badgeAt || 0) >= LIVE_POLL_MS ? [refreshBadge()] : [];
    if (jobs.length) state.badgeAt = Date.now();
    if (page && (force || Date.now() - page.refreshedAt >= every - 100)) {
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

// -- pushed alerts -----------------------------------------------------------------------

function showLive(live) {
  state.isLive = live;
  const badge = document.getElementById("live");
  if (!badge) return;
  badge.dataset.live = live ? "sse" : "polling";
  replace(badge, live ? t("app.live") : t("app.polling"));
}

function onLiveEvent(name, data) {
  if (name !== "alert") return;
  // Several log entries arrive together (opened, escalated, delivered): refresh once.
  clearTimeout(state.liveTimer);
  state.liveTimer = setTimeout(() => poll(true), 150);
  if (data.action === "opened" && data.severity === "critical") announce(data);
}

// A new critical alert: the tab's title flashes until someone is at the console, and a
// short tone sounds unless muted.
function announce(alert) {
  const message = t("app.new_critical", { who: alert.resident_name || t("dash"), kind: term("kind", alert.kind) });
  stopFlash();
  let on = false;
  state.flash = setInterval(() => {
    on = !on;
    document.title = on ? message : t("app.title");
  }, 1000);
  document.title = message;
  if (!muted()) beep();
}

function stopFlash() {
  if (state.flash) clearInterval(state.flash);
  state.flash = null;
  document.title = t("app.title");
}

function beep() {
  try {
    const audio = new AudioContext();
    for (const at of [0, 0.35, 0.7]) {
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      tone.frequency.value = 880;
      gain.gain.value = 0.15;
      tone.connect(gain).connect(audio.destination);
      tone.start(audio.currentTime + at);
      tone.stop(audio.currentTime + at + 0.2);
    }
  } catch (exc) {
    console.info("console: no sound:", exc.message || exc);
  }
}

function startLive() {
  stopLive();
  state.live = connectLive({ onEvent: onLiveEvent, onState: showLive });
}

function stopLive() {
  if (state.live) state.live.stop();
  state.live = null;
  stopFlash();
}

function stopPolling() {
  if (state.timer) clearTimeout(state.timer);
  state.timer = null;
}

function signOut() {
  stopLive();
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
  startLive();
}

window.addEventListener("hashchange", route);
window.addEventListener("sg:signed-out", () => {
  stopLive();
  renderSignIn();
});
for (const name of ["click", "keydown"]) window.addEventListener(name, () => state.flash && stopFlash());
document.addEventListener("visibilitychange", () => {
  // Coming back to the tab: ask at once, whatever the live stream says.
  if (document.visibilityState === "visible") poll(true);
});

await loadStrings();
document.title = t("app.title");
await start();
