// Dispatch: the open tasks (who holds each, how far it got) and time to arrive per
// community — time to accept, to on-site (median, p90), the share on site within
// 15 minutes, what was found — with the month's CSV for the health center.

import { api } from "../api.js";
import { badge, h, replace, table } from "../dom.js";
import { formatDuration, formatNumber, formatTime, language, t, term } from "../i18n.js";
import { residentLink } from "../people.js";

function share(value) {
  return value === null || value === undefined ? t("dash") : `${formatNumber(value * 100, 0)}%`;
}

function outcomes(counts) {
  const parts = Object.entries(counts || {}).map(([found, n]) => `${term("dispatch.found", found)} ${n}`);
  return parts.length ? parts.join("，") : t("dash");
}

function thisMonth() {
  const p = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit" }).formatToParts(new Date());
  const get = (type) => p.find((x) => x.type === type).value;
  return `${get("year")}-${get("month")}`;
}

async function downloadCsv(month, status) {
  try {
    const text = await api(`/api/v1/dispatch/arrival.csv?month=${encodeURIComponent(month)}`);
    const url = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
    const link = h("a", { href: url, download: `arrival-${month}.csv` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    replace(status, t("dispatch.csv_done", { month }));
  } catch (exc) {
    replace(status, t("dispatch.csv_failed", { message: exc.message }));
  }
}

export default {
  id: "dispatch",
  nav: "nav.dispatch",
  staffOnly: true,
  pollMs: 10000,
  mount(main, ctx) {
    const open = h("div", { id: "dispatch-open" });
    const figures = h("div", { id: "dispatch-arrival" });
    const precision = h("div", { id: "dispatch-precision" });
    const checks = h("div", { id: "dispatch-band-checks" });
    const month = h("input", { id: "dispatch-month", type: "month", value: thisMonth() });
    const status = h("span", { class: "muted", id: "dispatch-csv-status" });
    const csv = h(
      "p",
      null,
      h("label", { for: "dispatch-month" }, t("dispatch.month")),
      " ",
      month,
      " ",
      h("button", { type: "button", id: "dispatch-csv", onclick: () => downloadCsv(month.value, status) }, t("dispatch.csv")),
      " ",
      status,
    );
    replace(
      main,
      h("h1", null, t("dispatch.title")),
      h("h2", null, t("dispatch.open")),
      open,
      h("h2", null, t("dispatch.arrival")),
      figures,
      csv,
      h("p", { class: "muted" }, t("dispatch.help")),
      h("h2", null, t("dispatch.precision")),
      precision,
      h("h2", null, t("dispatch.band_checks")),
      checks,
    );
    return {
      async refresh() {
        const [tasks, arrival, fed, care] = await Promise.all([
          api("/api/v1/tasks?open=true"),
          api("/api/v1/dispatch/arrival"),
          api("/api/v1/dispatch/precision"),
          api("/api/v1/care-tasks"),
        ]);
        replace(
          precision,
          fed.flags.map((f) =>
            h("p", { class: "banner", dataset: { flag: f.rule } }, t("dispatch.flag", { rule: term("kind", f.rule), precision: share(f.precision), real: f.real, false: f.false, floor: share(f.floor) })),
          ),
          table(
            [
              [t("dispatch.col.rule"), (r) => term("kind", r.rule)],
              [t("dispatch.col.judged"), (r) => r.real + r.false, "num"],
              [t("dispatch.col.false"), (r) => r.false, "num"],
              [t("dispatch.col.precision"), (r) => share(r.precision), "num"],
            ],
            fed.rules,
            { empty: t("dispatch.no_outcomes"), rowAttrs: (r) => ({ dataset: { rule: r.rule }, class: r.flagged ? "attention" : "" }) },
          ),
        );
        replace(
          checks,
          table(
            [
              [t("dispatch.col.resident"), (c) => ctx.residentName(c.resident_id)],
              [t("dispatch.col.why"), (c) => (language() === "zh-CN" ? c.reason.text_zh : c.reason.text_en)],
              [t("dispatch.col.owner"), (c) => ctx.contactName(c.assignee_id)],
              [t("dispatch.col.since"), (c) => formatTime(c.created_at)],
            ],
            care,
            { empty: t("dispatch.no_band_checks"), rowAttrs: (c) => ({ dataset: { check: c.id } }) },
          ),
        );
        replace(
          open,
          table(
            [
              [t("dispatch.col.task"), (x) => h("a", { href: `#alerts/${x.alert_id}` }, `#${x.id}`)],
              [t("dispatch.col.resident"), (x) => residentLink(x.resident_id, ctx.residentName(x.resident_id))],
              [t("dispatch.col.kind"), (x) => term("kind", x.kind)],
              [t("dispatch.col.state"), (x) => badge(term("dispatch.state", x.state), `task-${x.state}`)],
              [t("dispatch.col.owner"), (x) => x.owner_name || t("dispatch.nobody_yet")],
              [t("dispatch.col.since"), (x) => formatTime(x.created_at)],
            ],
            tasks,
            { empty: t("dispatch.none_open"), rowAttrs: (x) => ({ dataset: { task: x.id, state: x.state } }) },
          ),
        );
        const rows = [...arrival.communities.map((c) => ({ ...c, name: ctx.communityName(c.community_id) })), { ...arrival.total, name: t("dispatch.total"), total: true }];
        replace(
          figures,
          h("p", { class: "muted" }, t("dispatch.period", { start: arrival.start, end: arrival.end })),
          table(
            [
              [t("dispatch.col.community"), (r) => (r.total ? h("strong", null, r.name) : r.name)],
              [t("dispatch.col.tasks"), (r) => r.tasks, "num"],
              [t("dispatch.col.accept"), (r) => formatDuration(r.accept_median_s), "num"],
              [t("dispatch.col.on_site"), (r) => formatDuration(r.on_site_median_s), "num"],
              [t("dispatch.col.on_site_p90"), (r) => formatDuration(r.on_site_p90_s), "num"],
              [t("dispatch.col.within"), (r) => h("span", { class: "within" }, share(r.within_target_share)), "num"],
              [t("dispatch.col.outcomes"), (r) => outcomes(r.outcomes)],
            ],
            rows,
            { rowAttrs: (r) => ({ dataset: { community: r.total ? "total" : r.community_id || "" } }) },
          ),
        );
      },
    };
  },
};
