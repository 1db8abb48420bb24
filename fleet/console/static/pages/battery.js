// Battery: per band the last level, the discharge slope since the last charge, the
// days left, and the flags (low, charge soon, abnormal drain versus the fleet's median).

import { badge, h, replace } from "../dom.js";
import { formatAgo, formatNumber, formatTime, t } from "../i18n.js";
import { pagedList } from "../list.js";
import { residentLink } from "../people.js";

const FLAGS = ["critical", "low", "charge_soon", "abnormal", "not_heard"];

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
    const list = pagedList({
      id: "battery-list",
      path: "/api/v1/battery",
      defaultSort: "concern",
      csvName: "battery.csv",
      filters: [
        {
          name: "flag",
          label: t("battery.col.flags"),
          options: [["", t("list.any")], ["attention", t("battery.flag.attention")], ...FLAGS.map((f) => [f, t(`battery.flag.${f}`)])],
        },
        ...(ctx.isStaff && ctx.communities.length > 1
          ? [{ name: "community_id", label: t("wristbands.col.community"), options: [["", t("list.any")], ...ctx.communities.map((c) => [c.id, c.name])] }]
          : []),
      ],
      onData: (data) => {
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
      },
      columns: [
        { label: t("battery.col.band"), sort: "mac", cell: (b) => h("code", null, b.mac) },
        {
          label: t("battery.col.resident"),
          sort: "resident",
          cell: (b) => (b.resident_id ? residentLink(b.resident_id, b.resident_name || ctx.residentName(b.resident_id)) : t("wristbands.stock")),
        },
        { label: t("battery.col.level"), sort: "level", cell: level },
        { label: t("battery.col.read"), sort: "read", cell: (b) => (b.level_at ? [formatTime(b.level_at), h("br"), h("span", { class: "muted" }, formatAgo(b.level_at))] : t("time.never")) },
        { label: t("battery.col.drain"), sort: "drain", cell: (b) => formatNumber(b.drain_per_day, 2), cls: "num" },
        { label: t("battery.col.days_left"), sort: "days_left", cell: (b) => (b.days_left === null ? t("dash") : t("battery.days", { days: formatNumber(b.days_left, 1) })), cls: "num" },
        { label: t("battery.col.flags"), sort: "concern", cell: (b) => FLAGS.filter((f) => b[f]).map((f) => badge(t(`battery.flag.${f}`), `flag-${f}`)) },
      ],
      empty: t("battery.empty"),
      rowAttrs: (b) => ({ dataset: { mac: b.mac }, class: b.critical || b.abnormal || b.low ? "attention" : "" }),
    });
    replace(main, h("h1", null, t("battery.title")), head, list.element, h("p", { class: "muted" }, t("battery.help")));
    return { refresh: () => list.refresh() };
  },
};
