// The grid worker's phone page: my open tasks (nearest first when the phone gives its
// position), what the person at the door needs, call buttons, and the task's moves.
// Moves go to the task's own signed links (the same the SMS carries), which the fleet
// hands to the task's holder in GET /api/v1/tasks/mine.

import { api, session, signIn } from "../api.js";
import { h, replace } from "../dom.js";

const LANG_KEY = "sg.lang";
const REFRESH_MS = 15000;
const TIME_ZONE = "Asia/Shanghai";
const FOUND = ["fall_injured", "fall_uninjured", "false_alarm", "not_at_home", "other"];
const DONE = ["helped_up", "called_family", "ambulance_120", "hospital"];

const root = document.getElementById("app");
const state = { strings: {}, kinds: {}, lang: "zh-CN", position: null, timer: null, notice: null };

function t(key, vars) {
  const table = state.strings[state.lang] || {};
  let text = key in table ? table[key] : key;
  for (const [name, value] of Object.entries(vars || {})) text = text.split(`{${name}}`).join(String(value));
  return text;
}

function kindName(kind) {
  return (state.kinds[state.lang] || {})[`kind.${kind}`] || kind;
}

function clock(iso) {
  return new Date(iso).toLocaleString(state.lang, {
    timeZone: TIME_ZONE,
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hour12: false,
  });
}

async function loadStrings() {
  const [own, console] = await Promise.all([
    fetch(new URL("phone-strings.json", import.meta.url), { cache: "no-cache" }).then((r) => r.json()),
    fetch(new URL("../strings.json", import.meta.url), { cache: "no-cache" }).then((r) => r.json()),
  ]);
  state.strings = own;
  state.kinds = console;
  const stored = localStorage.getItem(LANG_KEY);
  const browser = String((navigator.languages || [navigator.language])[0] || "").toLowerCase();
  state.lang = stored === "en" || stored === "zh-CN" ? stored : browser.startsWith("en") ? "en" : "zh-CN";
  document.documentElement.lang = state.lang;
}

function header() {
  return h(
    "header",
    null,
    h("h1", null, t("title")),
    h(
      "div",
      null,
      h(
        "button",
        {
          id: "lang",
          type: "button",
          onclick: () => {
            state.lang = state.lang === "en" ? "zh-CN" : "en";
            localStorage.setItem(LANG_KEY, state.lang);
            document.documentElement.lang = state.lang;
            show();
          },
        },
        t("lang"),
      ),
      session.token
        ? h(
            "button",
            {
              id: "signout",
              type: "button",
              onclick: () => {
                session.clear();
                renderSignIn();
              },
            },
            t("signout"),
          )
        : null,
    ),
  );
}

function renderSignIn(message) {
  clearTimeout(state.timer);
  const username = h("input", { id: "username", autocomplete: "username", required: true });
  const password = h("input", { id: "password", type: "password", autocomplete: "current-password", required: true });
  const error = h("p", { class: "error", role: "alert", id: "signin-error" }, message || "");
  const form = h(
    "form",
    {
      class: "card signin",
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          await signIn(username.value.trim(), password.value);
          password.value = "";
          await show();
        } catch (exc) {
          replace(error, t("signin.failed", { message: exc.message }));
        }
      },
    },
    h("h2", null, t("signin.title")),
    h("label", { for: "username" }, t("signin.username")),
    username,
    h("label", { for: "password" }, t("signin.password")),
    password,
    h("button", { class: "big", type: "submit", id: "signin-submit" }, t("signin.submit")),
  );
  replace(root, header(), h("main", null, error, form));
}

// A task link's path: the phone talks to the fleet it was loaded from.
function linkPath(url) {
  return new URL(url, location.href).pathname;
}

// The link pages answer in HTML; their heading says what happened, in words.
function heading(html) {
  const match = /<h1>([\s\S]*?)<\/h1>/.exec(html);
  const text = match ? match[1] : "";
  return text.replace(/&#x27;|&#39;/g, "'").replace(/&quot;/g, '"').replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

async function post(url, fields) {
  const body = new URLSearchParams();
  for (const [name, value] of fields) body.append(name, value);
  const response = await fetch(linkPath(url), { method: "POST", body, cache: "no-store", credentials: "omit" });
  const text = await response.text();
  return { ok: response.ok, message: heading(text) || `HTTP ${response.status}` };
}

async function act(task, url, fields, doneKey) {
  const result = await post(url, fields);
  state.notice = result.ok
    ? { id: task.id, text: doneKey ? t(doneKey) : result.message, ok: true }
    : { id: task.id, text: t("refused", { message: result.message }), ok: false };
  await show();
}

function outcomeForm(task) {
  const error = h("p", { class: "error", role: "alert" });
  const note = h("textarea", { name: "note", maxlength: "2000", id: `note-${task.id}` });
  return h(
    "form",
    {
      class: "outcome",
      onsubmit: async (event) => {
        event.preventDefault();
        const form = event.currentTarget;
        const found = form.querySelector("input[name=found]:checked");
        if (!found) {
          replace(error, t("pick_found"));
          return;
        }
        const fields = [["found", found.value]];
        for (const box of form.querySelectorAll("input[name=done]:checked")) fields.push(["done", box.value]);
        fields.push(["note", note.value]);
        await act(task, task.links.outcome, fields, "recorded");
      },
    },
    h(
      "fieldset",
      null,
      h("legend", null, t("found")),
      FOUND.map((f) => h("label", null, h("input", { type: "radio", name: "found", value: f }), " ", t(`found.${f}`))),
    ),
    h(
      "fieldset",
      null,
      h("legend", null, t("done")),
      DONE.map((d) => h("label", null, h("input", { type: "checkbox", name: "done", value: d }), " ", t(`done.${d}`))),
    ),
    h("label", { for: `note-${task.id}` }, t("note")),
    note,
    error,
    h("button", { class: "big go", type: "submit", id: `submit-${task.id}` }, t("submit")),
  );
}

function declineButton(task) {
  const confirm = h(
    "button",
    {
      class: "big no",
      type: "button",
      id: `decline-confirm-${task.id}`,
      onclick: () => act(task, task.links.decline, []),
    },
    t("decline.confirm"),
  );
  confirm.hidden = true;
  const first = h(
    "button",
    {
      class: "big no",
      type: "button",
      id: `decline-${task.id}`,
      onclick: () => {
        first.hidden = true;
        confirm.hidden = false;
      },
    },
    t("decline"),
  );
  return [first, confirm];
}

function card(task) {
  const calls = task.calls.map((c) =>
    h("a", { class: "call", href: `tel:${c.phone}`, dataset: { role: c.role } }, t(`call.${c.role}`, { who: c.who })),
  );
  const where = [task.community_name, task.address].filter(Boolean).join(" ");
  const details = [
    ["address", where],
    ["flat", task.flat],
    ["key_holder", task.key_holder],
    ["notes", task.care_notes],
    ["raised", clock(task.opened_at)],
  ].filter(([, value]) => value);
  const moves = [];
  if (task.state === "accepted") {
    moves.push(
      h(
        "button",
        { class: "big", type: "button", id: `on-the-way-${task.id}`, onclick: () => act(task, task.links.check_in, [["step", "on_the_way"]]) },
        t("on_the_way"),
      ),
    );
  }
  if (task.state !== "on_site") {
    moves.push(
      h(
        "button",
        {
          class: "big go",
          type: "button",
          id: `on-site-${task.id}`,
          onclick: () => {
            const fields = [["step", "on_site"]];
            if (state.position) fields.push(["lat", String(state.position.lat)], ["lon", String(state.position.lon)]);
            act(task, task.links.check_in, fields);
          },
        },
        t("on_site"),
      ),
    );
  }
  if (task.state === "on_site") moves.push(outcomeForm(task));
  if (task.state !== "on_site") moves.push(...declineButton(task));
  const notice = state.notice && state.notice.id === task.id ? state.notice : null;
  return h(
    "section",
    { class: "card task", id: `task-${task.id}`, dataset: { state: task.state } },
    h(
      "h2",
      null,
      h("span", { class: "kind" }, kindName(task.kind)),
      " ",
      task.resident_name,
      h("span", { class: "state" }, t(`state.${task.state}`)),
    ),
    task.distance_km !== null ? h("p", { class: "muted" }, t("km", { km: task.distance_km })) : null,
    h("dl", null, details.map(([key, value]) => [h("dt", null, t(key)), h("dd", { class: key }, value)])),
    h("div", { class: "calls" }, calls),
    notice ? h("p", { class: notice.ok ? "done" : "error", role: "status" }, notice.text) : null,
    moves,
  );
}

// "Check band fit and settings" after repeated false alarms: done when checked.
function checkCard(check) {
  return h(
    "section",
    { class: "card check", id: `check-${check.id}` },
    h("h2", null, t("check.title"), " ", check.resident_name),
    h("p", null, state.lang === "zh-CN" ? check.reason.text_zh : check.reason.text_en),
    h("dl", null, h("dt", null, t("address")), h("dd", null, check.address || "—")),
    h(
      "button",
      {
        class: "big go",
        type: "button",
        id: `check-done-${check.id}`,
        onclick: async () => {
          await api(`/api/v1/residents/${encodeURIComponent(check.resident_id)}/band-check/done`, { method: "POST" });
          state.notice = { id: null, text: t("check.done"), ok: true };
          await show();
        },
      },
      t("check.button"),
    ),
  );
}

function locate() {
  if (!navigator.geolocation) return;
  navigator.geolocation.getCurrentPosition(
    (where) => {
      state.position = { lat: where.coords.latitude, lon: where.coords.longitude };
      show();
    },
    () => {},
    { maximumAge: 60000, timeout: 10000 },
  );
}

async function show() {
  clearTimeout(state.timer);
  if (!session.token) {
    renderSignIn();
    return;
  }
  let tasks;
  let checks = [];
  try {
    const where = state.position ? `?lat=${state.position.lat}&lon=${state.position.lon}` : "";
    [tasks, checks] = await Promise.all([api(`/api/v1/tasks/mine${where}`), api("/api/v1/care-tasks")]);
  } catch (exc) {
    if (exc.status === 401) {
      renderSignIn(exc.message);
      return;
    }
    tasks = null;
  }
  const done = state.notice && tasks && !tasks.some((task) => task.id === state.notice.id) ? state.notice : null;
  state.notice = done ? null : state.notice;
  const body = tasks === null ? [h("p", { class: "error" }, "…")] : tasks.map(card);
  replace(
    root,
    header(),
    h(
      "main",
      null,
      done ? h("p", { class: done.ok ? "done" : "error", role: "status", id: "notice" }, done.text) : null,
      tasks && tasks.length === 0 ? h("p", { class: "muted", id: "empty" }, t("empty")) : null,
      body,
      checks.length ? h("h2", { class: "section" }, t("checks")) : null,
      checks.map(checkCard),
      state.position ? null : h("button", { class: "big", type: "button", id: "locate", onclick: locate }, t("nearest")),
      h("p", { class: "muted", id: "updated" }, t("updated", { time: clock(new Date().toISOString()) })),
    ),
  );
  state.timer = setTimeout(show, REFRESH_MS);
}

window.addEventListener("sg:signed-out", () => renderSignIn());
await loadStrings();
await show();
