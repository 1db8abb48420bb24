// Battery: per band the last level, the discharge slope since the last charge, the
// days left, and the flags (low, charge soon, abnormal drain versus the fleet's median).

import { api } from "../api.js";
import { badge, h, replace, table } from "../dom.js";
import { formatAgo, formatNumber, formatTime, t } from "../i18n.js";

const FLAGS = ["critical", "low", "charge_soon", "abnormal", "not_heard"];

// Most urgent first: abnormal or low bands, then the fewest days left.
function concern(b) {
  if (b.critical) return 0;
  if (b.abnormal) return 1;
  if (b.low) return 2;
  if (b.charge_soon) return 3;
  if (b.not_heard) return 4;
  return 5;
}

function level(b) {
  if (b.level === null) return t("dash");
  const pct = Math.max(0, Math.min(100, b.level));
  const bar = h("span", { class: `bar ${b.low ? "bar-low" : ""}`.trim() });
  bar.style.width = `${pct}%`; // CSSOM, not a style attribute: allowed by the CSP
  return h("span", { class: "level" }, h("span", { class: "gauge" }, bar), ` ${formatNumber(b.level, 0)}%`);
}

export default {
  id: "battery",
  nav: "nav.battery",
  // The fleet recomputes the figures once a minute; asking more often shows nothing new.
  pollMs: 30000,
  mount(main, ctx) {
    const head = h("div");
    const list = h("div", { id: "battery-list" });
    replace(main, h("h1", null, t("battery.title")), head, list, h("p", { class: "muted" }, t("battery.help")));
    return {
      async refresh() {
        const data = await api("/api/v1/battery");
        replace(
          head,
          data.available
            ? null
            : h("p", { class: "banner", id: "battery-problem" }, t("battery.unavailable", { problem: data.problem })),
          h(
            "p",
            { id: "battery-summary" },
            data.median_drain_per_day === null
              ? t("battery.summary_none")
              : t("battery.summary", { median: formatNumber(data.median_drain_per_day, 2), count: data.bands_with_slope }),
          ),
        );
        const bands = [...data.bands].sort(
          (a, b) => concern(a) - concern(b) || (a.days_left ?? Infinity) - (b.days_left ?? Infinity) || a.mac.localeCompare(b.mac),
        );
        replace(
          list,
          table(
            [
              [t("battery.col.band"), (b) => h("code", null, b.mac)],
              [t("battery.col.resident"), (b) => (b.resident_id ? ctx.residentName(b.resident_id) : t("wristbands.stock"))],
              [t("battery.col.level"), level],
              [t("battery.col.read"), (b) => (b.level_at ? [formatTime(b.level_at), h("br"), h("span", { class: "muted" }, formatAgo(b.level_at))] : t("time.never"))],
              [t("battery.col.drain"), (b) => formatNumber(b.drain_per_day, 2), "num"],
              [t("battery.col.days_left"), (b) => (b.days_left === null ? t("dash") : t("battery.days", { days: formatNumber(b.days_left, 1) })), "num"],
              [t("battery.col.flags"), (b) => FLAGS.filter((f) => b[f]).map((f) => badge(t(`battery.flag.${f}`), `flag-${f}`))],
            ],
            bands,
            {
              empty: t("battery.empty"),
              rowAttrs: (b) => ({ dataset: { mac: b.mac }, class: concern(b) < 3 ? "attention" : "" }),
            },
          ),
        );
      },
    };
  },
};
