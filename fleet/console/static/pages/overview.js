// Overview: the figures a shift starts with — alerts waiting, today's 15-minute
// acknowledgement share, gateways, batteries, residents not heard.

import { api, ApiError } from "../api.js";
import { badge, h, replace, table } from "../dom.js";
import { formatDuration, formatNumber, formatTime, t, term } from "../i18n.js";
import { residentLink } from "../people.js";
import { daySeconds, timeChart } from "../charts.js";

// Alerts per day change slowly: the chart is redrawn every few minutes, not every poll.
const CHART_MS = 300000;

const SEVERITIES = ["critical", "high", "medium", "low"];

function card(id, title, value, detail, cls) {
  return h(
    "section",
    { class: `card kpi ${cls || ""}`.trim(), id },
    h("h2", null, title),
    h("p", { class: "value" }, value),
    detail ? h("p", { class: "detail" }, detail) : null,
  );
}

async function optional(promise) {
  try {
    return await promise;
  } catch (exc) {
    if (exc instanceof ApiError) return null; // not for this role, or not available now
    throw exc;
  }
}

export default {
  id: "overview",
  nav: "nav.overview",
  mount(main, ctx) {
    const chart = h("section", { class: "card", id: "alerts-per-day" });
    let chartAt = 0;
    async function refreshChart() {
      if (Date.now() - chartAt < CHART_MS) return;
      chartAt = Date.now();
      const data = await api("/api/v1/charts/alerts?days=30");
      const series = Object.entries(data.by_incident).map(([incident, values]) => ({ label: term("incident", incident), values }));
      replace(
        chart,
        timeChart({
          id: "chart-alerts",
          title: t("chart.alerts_per_day"),
          xs: data.days.map(daySeconds),
          xLabels: data.days,
          series,
          emptyText: t("chart.no_alerts"),
        }),
        timeChart({
          id: "chart-ack",
          title: t("chart.ack_median"),
          xs: data.days.map(daySeconds),
          xLabels: data.days,
          series: [{ label: t("chart.ack_series"), values: data.acknowledged_median_s.map((s) => (s === null ? null : s / 60)) }],
          unit: t("chart.unit.minutes"),
          digits: 1,
          emptyText: t("chart.no_ack"),
        }),
      );
    }
    return {
      async refresh() {
        await refreshChart();
        const counts = await api("/api/v1/overview");
        const [sla, gateways, battery, latest] = await Promise.all([
          ctx.isStaff ? optional(api(`/api/v1/sla?start=${counts.day}&end=${counts.day}`)) : null,
          ctx.isStaff ? optional(api("/api/v1/gateway-status")) : null,
          optional(api("/api/v1/battery")),
          api("/api/v1/alerts?limit=20"),
        ]);
        const cards = [];
        const unresolved = SEVERITIES.reduce((n, s) => n + counts.unresolved_by_severity[s], 0);
        cards.push(
          h(
            "section",
            { class: "card kpi", id: "kpi-alerts" },
            h("h2", null, t("overview.unresolved")),
            h("p", { class: "value" }, String(unresolved)),
            h(
              "p",
              { class: "severities" },
              SEVERITIES.map((s) =>
                h(
                  "span",
                  { class: `sev sev-${s}`, id: `kpi-severity-${s}` },
                  h("span", { class: "label" }, t(`severity.${s}`)),
                  " ",
                  h("strong", null, String(counts.unresolved_by_severity[s])),
                ),
              ),
            ),
            h("p", { class: "detail" }, t("overview.by_state", counts.unresolved_by_state)),
            h("p", { class: "detail" }, t("overview.today", {
              opened: counts.opened_today,
              resolved: counts.resolved_today,
            })),
          ),
        );
        if (ctx.isStaff) {
          const total = sla ? sla.total : null;
          cards.push(
            total && total.eligible
              ? card(
                  "kpi-sla",
                  t("overview.sla"),
                  `${formatNumber(100 * total.within_target_share, 0)}%`,
                  t("overview.sla_detail", {
                    within: total.within_target,
                    eligible: total.eligible,
                    median: formatDuration(total.ack_median_s),
                  }),
                  total.within_target_share < 1 ? "warn" : "good",
                )
              : card("kpi-sla", t("overview.sla"), t("dash"), sla ? t("overview.sla_none") : t("overview.unavailable")),
          );
          const byConnection = { online: 0, silent: 0, offline: 0, unknown: 0 };
          for (const g of gateways || []) byConnection[g.connection] += 1;
          cards.push(
            card(
              "kpi-gateways",
              t("overview.gateways"),
              gateways ? `${byConnection.online} / ${gateways.length}` : t("dash"),
              gateways ? t("overview.gateways_detail", byConnection) : t("overview.unavailable"),
              byConnection.offline + byConnection.silent ? "warn" : "",
            ),
          );
        }
        if (battery) {
          const bands = battery.bands;
          const low = bands.filter((b) => b.low).length;
          const worn = bands.filter((b) => b.resident_id);
          const notHeard = worn.filter((b) => b.not_heard).length;
          cards.push(
            card(
              "kpi-battery",
              t("overview.battery"),
              battery.available ? String(low) : t("dash"),
              battery.available
                ? t("overview.battery_detail", {
                    soon: bands.filter((b) => b.charge_soon && !b.low).length,
                    abnormal: bands.filter((b) => b.abnormal).length,
                  })
                : t("battery.unavailable", { problem: battery.problem }),
              low ? "warn" : "",
            ),
            card(
              "kpi-not-heard",
              t("overview.not_heard"),
              battery.available ? String(notHeard) : t("dash"),
              t("overview.not_heard_detail", { total: worn.length }),
              notHeard ? "warn" : "",
            ),
          );
        }
        const waiting = latest.filter((a) => a.state !== "resolved").slice(0, 5);
        replace(
          main,
          h("h1", null, t("overview.title")),
          h("div", { class: "kpis" }, cards),
          chart,
          h("h2", null, t("overview.latest")),
          table(
            [
              [t("alerts.col.opened"), (a) => formatTime(a.opened_at)],
              [t("alerts.col.severity"), (a) => badge(term("severity", a.severity), `sev-${a.severity}`)],
              [t("alerts.col.kind"), (a) => h("a", { href: `#/alerts/${a.id}` }, term("kind", a.kind))],
              [t("alerts.col.resident"), (a) => residentLink(a.resident_id, a.resident_name || ctx.residentName(a.resident_id))],
              [t("alerts.col.state"), (a) => badge(term("state", a.state), `state-${a.state}`)],
            ],
            waiting,
            { empty: t("overview.none"), rowAttrs: (a) => ({ dataset: { alertId: a.id } }) },
          ),
        );
      },
    };
  },
};
