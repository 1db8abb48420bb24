// Alerts: the list (newest first, filtered by state, severity in colour) and one
// alert's timeline with its notifications, escalation and events; acknowledge and
// resolve (with the outcome and a note) from here.

import { api, ApiError } from "../api.js";
import { badge, h, replace, table } from "../dom.js";
import { formatAgo, formatTime, t, term } from "../i18n.js";
import { pagedList } from "../list.js";
import { actor, person, residentLink } from "../people.js";

const FILTERS = ["unresolved", "open", "notified", "acknowledged", "resolved", "all"];
const SEVERITIES = ["critical", "high", "medium", "low"];
const INCIDENTS = ["emergency", "inactivity", "medication", "water", "device"];
const UNRESOLVED = ["open", "notified", "acknowledged"];
const OUTCOMES = ["attended", "false_alarm", "hospital", "no_answer", "other"];
// A row stays marked "new" this long after it first appeared.
const FRESH_MS = 60000;

function generic(detail) {
  return Object.entries(detail || {})
    .filter(([, value]) => value !== null && value !== undefined && value !== "")
    .map(([key, value]) => `${key}: ${typeof value === "object" ? JSON.stringify(value) : value}`)
    .join(" · ");
}

function step(d) {
  return t("timeline.step", { round: (d.round ?? 0) + 1, step: (d.step ?? 0) + 1 });
}

// A timeline entry in words; entries of a kind this console does not know yet show raw.
function describe(entry, ctx, names) {
  const d = entry.detail || {};
  const parts = [];
  switch (entry.action) {
    case "opened":
      parts.push(term("kind", d.kind));
      break;
    case "folded":
    case "follow_up":
      parts.push(term("kind", d.kind));
      if (d.effect) parts.push(term("effect", d.effect));
      break;
    case "escalated":
      parts.push(step(d), (d.targets || []).map((x) => term("target", x)).join("、"));
      parts.push(
        (d.contacts || []).length
          ? d.contacts
              .map((c) => t("timeline.reached", { name: names.get(`contact:${c.contact}`) || ctx.contactName(c.contact), as: term("target", c.as), channels: c.channels }))
              .join("、")
          : t("timeline.nobody"),
      );
      break;
    case "no_contact":
      parts.push(step(d), t("timeline.nobody"));
      break;
    case "delivered":
    case "delivery_failed":
    case "delivery_cancelled":
    case "notified":
      parts.push(names.get(`contact:${d.contact}`) || ctx.contactName(d.contact));
      if (d.channel) parts.push(d.channel);
      if (d.attempt) parts.push(t("timeline.attempt", { attempt: d.attempt }));
      if (d.error) parts.push(d.error);
      if (d.reason) parts.push(d.reason);
      if (d.retry_at) parts.push(t("timeline.retry", { at: formatTime(d.retry_at) }));
      break;
    case "acknowledged":
      parts.push(term("timeline.via", d.via));
      break;
    case "escalation_stopped":
      parts.push(term("reason", d.reason));
      break;
    case "resolved":
      parts.push(term("outcome", d.outcome));
      break;
    default:
      parts.push(generic(d));
  }
  return parts.filter(Boolean).join(" · ");
}

export default {
  id: "alerts",
  nav: "nav.alerts",
  mount(main, ctx, params) {
    let selected = params[0] ? Number(params[0]) : null;
    const firstSeen = new Map();
    let loaded = false;
    const now = () => Date.now();
    const fresh = (a) => now() - (firstSeen.get(a.id) ?? 0) < FRESH_MS;

    const message = h("p", { class: "message", role: "status", id: "alert-message" });
    const detail = h("section", { id: "alert-detail", class: "card detail hidden" });
    const list = pagedList({
      id: "alert-list",
      path: "/api/v1/alerts",
      defaultSort: "-id",
      csvName: "alerts.csv",
      filters: [
        {
          name: "state",
          label: t("alerts.filter"),
          initial: UNRESOLVED.join(","),
          options: FILTERS.map((f) => [
            f === "unresolved" ? UNRESOLVED.join(",") : f === "all" ? "" : f,
            UNRESOLVED.includes(f) || f === "resolved" ? term("state", f) : t(`alerts.filter.${f}`),
          ]),
        },
        {
          name: "severity",
          label: t("alerts.col.severity"),
          options: [["", t("list.any")], ...SEVERITIES.map((s) => [s, term("severity", s)])],
        },
        {
          name: "incident",
          label: t("alerts.col.kind"),
          options: [["", t("list.any")], ...INCIDENTS.map((i) => [i, term("incident", i)])],
        },
        ...(ctx.isStaff && ctx.communities.length > 1
          ? [
              {
                name: "community_id",
                label: t("alerts.col.community"),
                options: [["", t("list.any")], ...ctx.communities.map((c) => [c.id, c.name])],
              },
            ]
          : []),
        ...(ctx.grids.length
          ? [{ name: "grid_id", label: t("residents.col.grid"), options: [["", t("list.any")], ...ctx.grids.map((g) => [g.id, g.name])] }]
          : []),
      ],
      onData: (alerts) => {
        for (const a of alerts) if (!firstSeen.has(a.id)) firstSeen.set(a.id, loaded ? now() : 0);
        loaded = true;
      },
      columns: [
        { label: t("alerts.col.opened"), sort: "opened", cell: (a) => [formatTime(a.opened_at), fresh(a) ? badge(t("alerts.new"), "new") : null] },
        { label: t("alerts.col.severity"), sort: "severity", cell: (a) => badge(term("severity", a.severity), `sev-${a.severity}`) },
        { label: t("alerts.col.kind"), sort: "kind", cell: (a) => h("a", { href: `#/alerts/${a.id}`, class: "alert-link" }, term("kind", a.kind)) },
        { label: t("alerts.col.resident"), sort: "resident", cell: (a) => residentLink(a.resident_id, a.resident_name || ctx.residentName(a.resident_id)) },
        { label: t("alerts.col.community"), sort: "community", cell: (a) => person(a.community_id, a.community_name || ctx.communityName(a.community_id)) },
        { label: t("alerts.col.state"), sort: "state", cell: (a) => badge(term("state", a.state), `state-${a.state}`) },
        {
          label: t("alerts.col.handled_by"),
          cell: (a) =>
            a.resolved_by ? actor(a.resolved_by, a.resolved_by_name) : actor(a.acknowledged_by, a.acknowledged_by_name),
        },
      ],
      empty: t("alerts.empty"),
      rowAttrs: (a) => ({
        class: [`sev-row-${a.severity}`, a.id === selected ? "selected" : "", fresh(a) ? "fresh" : ""].join(" "),
        dataset: { alertId: a.id, state: a.state },
      }),
    });
    replace(
      main,
      h("h1", null, t("alerts.title")),
      message,
      h("div", { class: "split" }, list.element, detail),
    );
    list.element.setAttribute("aria-live", "polite");

    // The resolve form is built once per alert, so a refresh never wipes what is typed.
    let form = null;
    function resolveForm(alert) {
      if (form && form.dataset.alertId === String(alert.id)) return form;
      const outcome = h(
        "select",
        { id: "resolve-outcome", required: true },
        OUTCOMES.map((o) => h("option", { value: o }, term("outcome", o))),
      );
      const note = h("textarea", {
        id: "resolve-note",
        rows: 3,
        maxlength: 2000,
        placeholder: t("alert.note_placeholder"),
      });
      form = h(
        "form",
        {
          class: "resolve",
          dataset: { alertId: alert.id },
          onsubmit: async (event) => {
            event.preventDefault();
            await act(`/api/v1/alerts/${alert.id}/resolve`, { outcome: outcome.value, note: note.value });
          },
        },
        h("h3", null, t("alert.resolve_title")),
        h("label", { for: "resolve-outcome" }, t("alert.outcome")),
        outcome,
        h("label", { for: "resolve-note" }, t("alert.note")),
        note,
        h("button", { type: "submit", id: "resolve" }, t("alert.resolve")),
      );
      return form;
    }

    async function act(path, json) {
      try {
        await api(path, { method: "POST", json });
        replace(message);
      } catch (exc) {
        if (!(exc instanceof ApiError)) throw exc;
        replace(message, t("app.error", { message: exc.message }));
      }
      await ctx.refreshNow();
    }

    function renderDetail(alert) {
      const escalation = alert.escalation || {};
      const actions = [];
      if (alert.state === "open" || alert.state === "notified") {
        actions.push(
          h("button", { type: "button", id: "acknowledge", class: "primary", onclick: () => act(`/api/v1/alerts/${alert.id}/ack`) }, t("alert.ack")),
        );
      }
      if (alert.state !== "resolved") actions.push(resolveForm(alert));
      const names = new Map();
      for (const e of alert.timeline || []) if (e.actor_name) names.set(e.actor, e.actor_name);
      for (const d of alert.deliveries || []) if (d.contact_name) names.set(`contact:${d.contact}`, d.contact_name);
      const facts = [
        [t("alert.resident"), residentLink(alert.resident_id, alert.resident_name || ctx.residentName(alert.resident_id))],
        [t("alert.device"), alert.device],
        [t("alert.opened"), `${formatTime(alert.opened_at)} (${formatAgo(alert.opened_at)})`],
        [t("alert.state"), badge(term("state", alert.state), `state-${alert.state}`)],
      ];
      if (alert.acknowledged_at) {
        facts.push([t("alert.acknowledged"), [actor(alert.acknowledged_by, alert.acknowledged_by_name), " · ", formatTime(alert.acknowledged_at)]]);
      }
      if (alert.resolved_at) {
        facts.push([t("alert.resolved"), [actor(alert.resolved_by, alert.resolved_by_name), " · ", formatTime(alert.resolved_at)]]);
        facts.push([t("alert.outcome"), term("outcome", alert.outcome)]);
        if (alert.note) facts.push([t("alert.note"), alert.note]);
      }
      replace(
        detail,
        h("p", null, h("a", { href: "#/alerts", class: "back" }, t("alerts.back"))),
        h("h2", { id: "alert-title" }, t("alert.title", { id: alert.id }), " ", badge(term("severity", alert.severity), `sev-${alert.severity}`), " ", term("kind", alert.kind)),
        h("dl", { class: "facts" }, facts.map(([k, v]) => [h("dt", null, k), h("dd", null, v)])),
        h("div", { class: "actions" }, actions),
        h("h3", null, t("alert.escalation")),
        h(
          "p",
          { id: "alert-escalation" },
          escalation.next_due_at
            ? t("alert.next_step", {
                round: (escalation.next_round ?? 0) + 1,
                step: (escalation.next_step ?? 0) + 1,
                due: formatTime(escalation.next_due_at),
                targets: (escalation.next_targets || []).map((x) => term("target", x)).join("、"),
              })
            : t("alert.no_next_step"),
        ),
        h("h3", null, t("alert.timeline")),
        h(
          "div",
          { id: "alert-timeline" },
          table(
            [
              [t("alert.col.time"), (e) => formatTime(e.at)],
              [t("alert.col.action"), (e) => term("action", e.action)],
              [t("alert.col.actor"), (e) => actor(e.actor, e.actor_name)],
              [t("alert.col.detail"), (e) => describe(e, ctx, names), "wrap"],
            ],
            alert.timeline || [],
            { rowAttrs: (e) => ({ dataset: { action: e.action } }) },
          ),
        ),
        h("h3", null, t("alert.deliveries")),
        table(
          [
            [t("alert.col.contact"), (d) => person(d.contact, d.contact_name || ctx.contactName(d.contact))],
            [t("alert.col.channel"), (d) => d.channel || t("dash")],
            [t("alert.col.target"), (d) => term("target", d.target)],
            [t("alert.col.step"), (d) => (d.round === null ? t("dash") : `${d.round + 1}/${d.step + 1}`)],
            [t("alert.col.status"), (d) => badge(term("delivery", d.status), `delivery-${d.status}`)],
            [t("alert.col.attempts"), (d) => String(d.attempts)],
            [t("alert.col.sent"), (d) => formatTime(d.sent_at)],
            [t("alert.col.error"), (d) => d.last_error || "", "wrap"],
          ],
          alert.deliveries || [],
          { empty: t("dash") },
        ),
        h("h3", null, t("alert.events")),
        table(
          [
            [t("alert.col.kind"), (e) => term("kind", e.kind)],
            [t("alert.col.gateway"), (e) => e.gateway],
            [t("alert.col.detected"), (e) => formatTime(e.detected_at)],
            [t("alert.col.received"), (e) => formatTime(e.received_at)],
            [t("alert.col.disposition"), (e) => term("disposition", e.disposition)],
          ],
          alert.events || [],
          { empty: t("dash") },
        ),
      );
    }

    const view = {
      async refresh() {
        await list.refresh();
        if (selected === null) {
          detail.classList.add("hidden");
          return;
        }
        try {
          renderDetail(await api(`/api/v1/alerts/${selected}`));
          detail.classList.remove("hidden");
        } catch (exc) {
          if (!(exc instanceof ApiError)) throw exc;
          replace(detail, h("p", { class: "error" }, t("app.error", { message: exc.message })));
          detail.classList.remove("hidden");
        }
      },
      async update(next) {
        const id = next[0] ? Number(next[0]) : null;
        if (id !== selected) {
          selected = id;
          form = null;
          list.element.querySelectorAll("tr[data-alert-id]").forEach((row) => row.classList.toggle("selected", Number(row.dataset.alertId) === id));
          replace(message);
        }
        await view.refresh();
      },
    };
    return view;
  },
};
