// One resident: who and where, whom to call (tel: links), the band, the care plan with
// its delivery to the gateways (desired vs applied), the flat's meters and the alerts.
// Reached from every place a resident is named (#/resident/<id>); not in the menu.

import { api, ApiError } from "../api.js";
import { badge, h, replace, table } from "../dom.js";
import { formatAgo, formatNumber, formatTime, t, term } from "../i18n.js";
import { actor, person } from "../people.js";
import { daySeconds, timeChart } from "../charts.js";

const SENSITIVITIES = ["low", "standard", "high"];

function facts(rows) {
  return h(
    "dl",
    { class: "facts" },
    rows.filter(Boolean).map(([label, value, id]) => [h("dt", null, label), h("dd", { id }, value)]),
  );
}

function call(contact) {
  const who = person(contact.id, contact.display_name);
  if (!contact.phone) return [who, " ", h("span", { class: "muted" }, t("resident.no_phone"))];
  return [
    who,
    " ",
    h("a", { href: `tel:${contact.phone}`, class: "tel", "aria-label": t("resident.call", { name: contact.display_name }) }, contact.phone),
  ];
}

function alertRows(alerts, empty, id) {
  return h(
    "div",
    { id },
    table(
      [
        [t("alerts.col.opened"), (a) => h("a", { href: `#/alerts/${a.id}` }, formatTime(a.opened_at))],
        [t("alerts.col.severity"), (a) => badge(term("severity", a.severity), `sev-${a.severity}`)],
        [t("alerts.col.kind"), (a) => term("kind", a.kind)],
        [t("alerts.col.state"), (a) => badge(term("state", a.state), `state-${a.state}`)],
        [t("alerts.col.handled_by"), (a) => (a.resolved_by ? actor(a.resolved_by, a.resolved_by_name) : actor(a.acknowledged_by, a.acknowledged_by_name))],
        [t("alert.outcome"), (a) => (a.outcome ? term("outcome", a.outcome) : t("dash"))],
      ],
      alerts,
      { empty, rowAttrs: (a) => ({ dataset: { alertId: a.id }, class: `sev-row-${a.severity}` }) },
    ),
  );
}

// The band: battery, when last heard, by which gateway and how well.
function bandFacts(band) {
  if (!band) return h("p", { id: "resident-band" }, t("resident.no_band"));
  return h(
    "div",
    { id: "resident-band" },
    facts([
      [t("resident.band"), h("code", null, band.mac)],
      [
        t("resident.battery"),
        band.level === null
          ? t("resident.no_reading")
          : [
              `${formatNumber(band.level, 0)}%`,
              band.days_left === null ? null : ` · ${t("resident.days_left", { days: formatNumber(band.days_left, 1) })}`,
              band.low ? [" ", badge(t("battery.flag.low"), "flag-low")] : null,
              band.abnormal ? [" ", badge(t("battery.flag.abnormal"), "flag-abnormal")] : null,
            ],
        "resident-battery",
      ],
      [
        t("resident.last_heard"),
        band.last_heard_at ? `${formatTime(band.last_heard_at)}（${formatAgo(band.last_heard_at)}）` : t("time.never"),
        "resident-last-heard",
      ],
      [t("resident.best_gateway"), band.best_gateway ? h("code", null, band.best_gateway) : t("dash"), "resident-best-gateway"],
      [t("resident.signal"), band.rssi === null ? t("dash") : `${formatNumber(band.rssi, 0)} dBm`, "resident-signal"],
    ]),
  );
}

// Desired vs applied: the version the fleet wants each gateway to run and the version
// the gateway says it applied, with anything it set aside about this resident.
function delivery(gateways) {
  if (!gateways.length) return h("p", { id: "plan-delivery", class: "muted" }, t("resident.no_gateway"));
  return h(
    "div",
    { id: "plan-delivery" },
    table(
      [
        [t("gateways.col.id"), (g) => h("code", null, g.id)],
        [t("resident.desired"), (g) => String(g.desired_version), "num"],
        [t("resident.applied"), (g) => (g.reported_version === null ? t("dash") : String(g.reported_version)), "num"],
        [
          t("resident.delivery"),
          (g) =>
            g.in_sync
              ? badge(t("resident.applied_ok"), "ok")
              : g.state !== "enrolled"
                ? badge(term("gateway_state", g.state), "muted")
                : badge(t("resident.waiting_gateway"), "warn"),
        ],
        [t("resident.set_aside"), (g) => g.set_aside.map((p) => `${term("gateways.section", p.section)}: ${p.reason}`).join("；") || t("dash"), "wrap"],
      ],
      gateways,
      { rowAttrs: (g) => ({ dataset: { gateway: g.id, inSync: String(g.in_sync) } }) },
    ),
  );
}

function meterRows(meters) {
  if (!meters.length) return h("p", { id: "resident-meters", class: "muted" }, t("resident.no_meters"));
  return h(
    "div",
    { id: "resident-meters" },
    table(
      [
        [t("resident.meter"), (m) => h("code", null, m.id)],
        [t("resident.utility"), (m) => term("utility", m.kind)],
        [t("resident.last_reading"), (m) => (m.last_at ? formatTime(m.last_at) : t("time.never"))],
        [t("resident.values"), (m) => Object.entries(m.values).map(([k, v]) => `${k} ${formatNumber(v, 2)}`).join(" · ") || t("dash"), "wrap"],
      ],
      meters,
    ),
  );
}

// The care plan form: what the gateway's rules need. The fleet checks it with the very
// type the gateway applies; a refusal names the field, and the field is marked.
function planForm(resident, ctx, onSaved) {
  const plan = resident.care_plan;
  const editable = ctx.isStaff;
  const message = h("p", { class: "message", role: "alert", id: "plan-message" });
  const start = h("input", { id: "plan-start", type: "time", value: plan.active_hours ? plan.active_hours.start : "", disabled: !editable });
  const end = h("input", { id: "plan-end", type: "time", value: plan.active_hours ? plan.active_hours.end : "", disabled: !editable });
  const inactivity = h("input", {
    id: "plan-inactivity",
    type: "number",
    step: 1,
    value: plan.inactivity_s === null ? "" : String(Math.round(plan.inactivity_s / 60)),
    disabled: !editable,
    "aria-describedby": "plan-inactivity-help",
  });
  const sensitivity = h(
    "select",
    { id: "plan-sensitivity", disabled: !editable },
    SENSITIVITIES.map((s) => h("option", { value: s }, term("sensitivity", s))),
  );
  sensitivity.value = plan.fall_sensitivity;
  const doses = h("tbody", { id: "plan-doses" });
  function doseRow(dose, label) {
    const n = doses.children.length + 1;
    const id = h("input", { class: "dose-id", value: dose.id, maxlength: 20, disabled: !editable, "aria-label": t("plan.dose_id", { n }) });
    const time = h("input", { class: "dose-time", type: "time", value: dose.time, disabled: !editable, "aria-label": t("plan.dose_time", { n }) });
    const what = h("input", { class: "dose-label", value: label || "", maxlength: 80, disabled: !editable, "aria-label": t("plan.dose_label", { n }) });
    const row = h(
      "tr",
      null,
      h("td", null, id),
      h("td", null, time),
      h("td", null, what),
      h("td", null, editable ? h("button", { type: "button", onclick: () => row.remove(), "aria-label": t("plan.remove_dose", { n }) }, t("plan.remove")) : null),
    );
    doses.append(row);
  }
  for (const dose of plan.medication) doseRow(dose, resident.medication_labels[dose.id]);
  const fields = { "active_hours": start, "active_hours.start": start, "active_hours.end": end, inactivity_s: inactivity, fall_sensitivity: sensitivity };

  function mark(loc) {
    for (const input of [start, end, inactivity, sensitivity, ...doses.querySelectorAll("input")]) input.removeAttribute("aria-invalid");
    if (!loc) return null;
    const path = loc.filter((p) => p !== "body" && p !== "care_plan");
    let input = fields[path.join(".")] || fields[path[0]];
    if (path[0] === "medication" || path[0] === "medication_labels") {
      const rows = doses.querySelectorAll("tr");
      const row = typeof path[1] === "number" ? rows[path[1]] : rows[0];
      if (row) input = row.querySelector(path[2] === "time" ? ".dose-time" : path[0] === "medication_labels" ? ".dose-label" : ".dose-id");
    }
    if (input) {
      input.setAttribute("aria-invalid", "true");
      input.focus();
    }
    return path.join(".");
  }

  async function save(event) {
    event.preventDefault();
    const medication = [];
    const labels = {};
    for (const row of doses.querySelectorAll("tr")) {
      const id = row.querySelector(".dose-id").value.trim();
      const time = row.querySelector(".dose-time").value;
      const label = row.querySelector(".dose-label").value.trim();
      medication.push({ id, time });
      if (label) labels[id] = label;
    }
    const body = {
      care_plan: {
        active_hours: start.value || end.value ? { start: start.value, end: end.value } : null,
        inactivity_s: inactivity.value === "" ? null : Math.round(Number(inactivity.value) * 60),
        medication,
        fall_sensitivity: sensitivity.value,
      },
      medication_labels: labels,
    };
    try {
      await api(`/api/v1/residents/${encodeURIComponent(resident.id)}`, { method: "PATCH", json: body });
      mark(null);
      replace(message, t("plan.saved"));
      message.className = "message ok";
      await onSaved();
    } catch (exc) {
      if (!(exc instanceof ApiError)) throw exc;
      const detail = exc.data && Array.isArray(exc.data.detail) ? exc.data.detail[0] : null;
      const field = detail ? mark(detail.loc || []) : null;
      replace(
        message,
        field
          ? t("plan.refused_field", { field: t(`plan.field.${field.split(".")[0]}`), message: detail.msg })
          : t("app.error", { message: exc.message }),
      );
      message.className = "message error";
      message.dataset.field = field || "";
    }
  }

  return h(
    "form",
    { id: "plan-form", class: "card plan", onsubmit: save, novalidate: true },
    h("h2", null, t("resident.plan")),
    h(
      "fieldset",
      null,
      h("legend", null, t("plan.field.active_hours")),
      h("label", { for: "plan-start" }, t("plan.start")),
      start,
      h("label", { for: "plan-end" }, t("plan.end")),
      end,
    ),
    h("div", { class: "field" }, h("label", { for: "plan-inactivity" }, t("plan.field.inactivity_s")), inactivity, h("span", { id: "plan-inactivity-help", class: "muted" }, t("plan.inactivity_help"))),
    h("div", { class: "field" }, h("label", { for: "plan-sensitivity" }, t("plan.field.fall_sensitivity")), sensitivity),
    h(
      "table",
      { class: "doses", "aria-label": t("plan.field.medication") },
      h("caption", null, t("plan.field.medication")),
      h("thead", null, h("tr", null, h("th", { scope: "col" }, t("plan.dose")), h("th", { scope: "col" }, t("plan.time")), h("th", { scope: "col" }, t("plan.label")), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, t("plan.actions"))))),
      doses,
    ),
    editable
      ? h(
          "div",
          { class: "actions" },
          h("button", { type: "button", id: "plan-add-dose", onclick: () => doseRow({ id: "", time: "" }, "") }, t("plan.add_dose")),
          h("button", { type: "submit", id: "plan-save" }, t("plan.save")),
        )
      : h("p", { class: "muted" }, t("plan.read_only")),
    message,
  );
}

// The resident's charts: activity against their own baseline, the nights, the flat's
// water and electricity, and the band's battery with the day it should run empty.
function chartsOf(c) {
  const xs = c.days.map(daySeconds);
  const labels = c.days;
  const line = (value) => c.days.map(() => value);
  const withBaseline = (label, values, baseline) => [
    { label, values },
    ...(baseline === null ? [] : [{ label: t("chart.baseline"), values: line(baseline), dash: true, colour: "#5f6b7a" }]),
  ];
  const out = [
    timeChart({ id: "chart-steps", title: t("chart.steps"), xs, xLabels: labels, series: withBaseline(t("chart.steps_series"), c.steps, c.baseline_steps), unit: t("chart.unit.steps"), emptyText: t("chart.no_steps") }),
    timeChart({ id: "chart-active", title: t("chart.active"), xs, xLabels: labels, series: withBaseline(t("chart.active_series"), c.active_minutes, c.baseline_active_minutes), unit: t("chart.unit.minutes"), emptyText: t("chart.no_activity") }),
    timeChart({ id: "chart-night", title: t("chart.night"), xs, xLabels: labels, series: withBaseline(t("chart.night_series"), c.night_active_minutes, c.baseline_night_active_minutes), unit: t("chart.unit.minutes"), emptyText: t("chart.no_activity") }),
    timeChart({ id: "chart-water", title: t("chart.water"), xs, xLabels: labels, series: [{ label: t("chart.water_series"), values: c.water_m3, colour: "#00838f" }], unit: "m³", digits: 3, emptyText: t("chart.no_water") }),
    timeChart({ id: "chart-electricity", title: t("chart.electricity"), xs, xLabels: labels, series: [{ label: t("chart.electricity_series"), values: c.electricity_kwh, colour: "#b7791f" }], unit: "kWh", digits: 2, emptyText: t("chart.no_electricity") }),
  ];
  const hours = c.hours.map((at) => Date.parse(at) / 1000);
  const hourLabels = c.hours.map((at) => formatTime(at));
  out.push(
    timeChart({ id: "chart-water-hourly", title: t("chart.water_hourly"), xs: hours, xLabels: hourLabels, series: [{ label: t("chart.water_series"), values: c.water_m3_hourly, colour: "#00838f" }], unit: "m³", digits: 3, emptyText: t("chart.no_water_hourly") }),
    timeChart({ id: "chart-electricity-hourly", title: t("chart.electricity_hourly"), xs: hours, xLabels: hourLabels, series: [{ label: t("chart.electricity_series"), values: c.electricity_kwh_hourly, colour: "#8a5b00" }], unit: "kWh", digits: 2, emptyText: t("chart.no_electricity_hourly") }),
  );
  const battery = timeChart({
    id: "chart-battery",
    title: t("chart.battery"),
    xs: c.battery.map((p) => Date.parse(p.at) / 1000),
    xLabels: c.battery.map((p) => formatTime(p.at)),
    series: [{ label: t("chart.battery_series"), values: c.battery.map((p) => p.level), colour: "#2e7d32" }],
    unit: "%",
    emptyText: t("chart.no_battery"),
  });
  battery.append(
    h(
      "p",
      { id: "battery-forecast" },
      c.battery_empty_on
        ? t("chart.empty_on", { day: c.battery_empty_on, days: formatNumber(c.battery_days_left, 1) })
        : t("chart.no_forecast"),
    ),
  );
  out.push(battery);
  return out;
}

export default {
  id: "resident",
  hidden: true,
  // What is not an alert changes here too (the gateways applying a saved care plan,
  // the band heard again): ask every 5 s even while alerts are pushed.
  livePollMs: 5000,
  mount(main, ctx, params) {
    let residentId = params[0] ? decodeURIComponent(params[0]) : null;
    let plan = null; // built once per resident: a refresh never wipes what is being typed
    let planFor = null;
    const head = h("div", { id: "resident-head" });
    const people = h("section", { class: "card", id: "resident-people" });
    const band = h("section", { class: "card", id: "resident-band-card" });
    const planSlot = h("div", { id: "resident-plan" });
    const deliverySlot = h("section", { class: "card", id: "resident-delivery" });
    const meters = h("section", { class: "card", id: "resident-meters-card" });
    const alerts = h("section", { class: "card", id: "resident-alerts" });
    const charts = h("div", { class: "charts", id: "resident-chart-list", "aria-live": "polite" });
    let span = 30;
    let chartsFor = null;
    const spanButtons = [30, 90].map((days) =>
      h(
        "button",
        {
          type: "button",
          id: `charts-${days}`,
          "aria-pressed": String(days === span),
          onclick: async () => {
            span = days;
            for (const b of spanButtons) b.setAttribute("aria-pressed", String(b.id === `charts-${days}`));
            await loadCharts(true);
          },
        },
        t("chart.days", { days }),
      ),
    );
    const chartCard = h(
      "section",
      { class: "card", id: "resident-charts" },
      h("h2", null, t("chart.title")),
      h("div", { class: "controls", role: "group", "aria-label": t("chart.span") }, spanButtons),
      charts,
    );

    async function loadCharts(force) {
      if (!residentId || (!force && chartsFor === residentId)) return;
      chartsFor = residentId;
      let data;
      try {
        data = await api(`/api/v1/residents/${encodeURIComponent(residentId)}/charts?days=${span}`);
      } catch (exc) {
        if (!(exc instanceof ApiError)) throw exc;
        replace(charts, h("p", { class: "error" }, t("app.error", { message: exc.message })));
        return;
      }
      replace(
        charts,
        data.problem ? h("p", { class: "banner", role: "status" }, t("resident.timeseries_problem", { problem: data.problem })) : null,
        chartsOf(data),
      );
    }
    replace(
      main,
      head,
      h("div", { class: "resident-grid" }, people, band, planSlot, deliverySlot, meters),
      alerts,
      chartCard,
    );

    async function load() {
      if (!residentId) {
        replace(head, h("p", { class: "error" }, t("resident.none")));
        return;
      }
      let r;
      try {
        r = await api(`/api/v1/residents/${encodeURIComponent(residentId)}/overview`);
      } catch (exc) {
        if (!(exc instanceof ApiError)) throw exc;
        replace(head, h("h1", null, t("resident.title")), h("p", { class: "error", id: "resident-error" }, t("app.error", { message: exc.message })));
        return;
      }
      document.title = `${r.display_name} · ${t("app.title")}`;
      replace(
        head,
        h("p", null, h("a", { href: "#/residents", class: "back" }, t("resident.back"))),
        h("h1", { id: "resident-name", title: r.id }, r.display_name),
        r.timeseries_problem ? h("p", { class: "banner", role: "status" }, t("resident.timeseries_problem", { problem: r.timeseries_problem })) : null,
      );
      replace(
        people,
        h("h2", null, t("resident.who")),
        facts([
          [t("resident.address"), r.address || t("dash"), "resident-address"],
          [t("resident.flat"), r.flat ? h("code", null, r.flat) : t("dash")],
          [t("resident.community"), [person(r.community.id, r.community.name), r.grid.id ? ["，", person(r.grid.id, r.grid.name)] : null], "resident-community"],
          [t("resident.lives_alone"), r.lives_alone ? t("resident.yes") : t("resident.no")],
          r.health_notes ? [t("resident.notes"), r.health_notes] : null,
        ]),
        h("h3", null, t("resident.caregivers")),
        h("ol", { id: "resident-caregivers" }, r.caregivers.map((c) => h("li", null, call(c)))),
        r.caregivers.length ? null : h("p", { class: "muted" }, t("resident.no_caregivers")),
        h("h3", null, t("resident.grid_worker")),
        h("p", { id: "resident-grid-worker" }, r.grid_worker ? call(r.grid_worker) : t("dash")),
      );
      replace(band, h("h2", null, t("resident.band_title")), bandFacts(r.band));
      if (!plan || planFor !== r.id) {
        plan = planForm(r, ctx, load);
        planFor = r.id;
        replace(planSlot, plan);
      }
      replace(deliverySlot, h("h2", null, t("resident.delivery_title")), h("p", { class: "muted" }, t("resident.delivery_help")), delivery(r.gateways));
      replace(meters, h("h2", null, t("resident.meters")), meterRows(r.meters));
      replace(
        alerts,
        h("h2", null, t("resident.open_alerts")),
        alertRows(r.open_alerts, t("resident.no_open_alerts"), "resident-open-alerts"),
        h("h2", null, t("resident.past_alerts")),
        alertRows(r.past_alerts, t("resident.no_past_alerts"), "resident-past-alerts"),
      );
    }

    return {
      async refresh() {
        await load();
        await loadCharts(false);
      },
      async update(next) {
        const id = next[0] ? decodeURIComponent(next[0]) : null;
        if (id !== residentId) {
          residentId = id;
          plan = null;
        }
        await load();
        await loadCharts(false);
      },
    };
  },
};
