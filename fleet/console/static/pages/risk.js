// Risk board: a community's residents ranked by their risk tags (each with its
// evidence and since when), what changed since last week, and each grid worker's
// visit list for the week; a visit recorded here takes the resident off the list.

import { api } from "../api.js";
import { badge, h, replace, table } from "../dom.js";
import { language, t } from "../i18n.js";
import { residentLink } from "../people.js";

function tagBadge(tag) {
  const zh = language() === "zh-CN";
  const name = zh ? tag.name_zh : tag.name_en;
  const evidence = zh ? tag.evidence_zh : tag.evidence_en;
  return h(
    "span",
    { class: "risk-tag", dataset: { tag: tag.tag } },
    badge(name, `weight-${Math.min(tag.weight, 5)}`),
    " ",
    h("span", { class: "muted evidence" }, t("risk.evidence", { evidence, since: tag.since })),
  );
}

function changes(entry, names) {
  const parts = [];
  for (const tag of entry.new) parts.push(h("span", { class: "risk-new" }, `+ ${names.get(tag) || tag}`));
  for (const tag of entry.gone) parts.push(h("span", { class: "risk-gone" }, `− ${names.get(tag) || tag}`));
  return parts.length ? parts.flatMap((p, i) => (i ? [h("br"), p] : [p])) : t("dash");
}

export default {
  id: "risk",
  nav: "nav.risk",
  staffOnly: true,
  pollMs: 60000,
  mount(main, ctx) {
    const picker = h("select", { id: "risk-community" });
    const body = h("div", { id: "risk-board" });
    const status = h("p", { class: "muted", id: "risk-status", role: "status" });
    let names = new Map();
    let view;

    async function visit(residentId, found) {
      try {
        await api("/api/v1/risk/visits", { method: "POST", json: { resident_id: residentId, found } });
        replace(status, t("risk.visit_done", { name: ctx.residentName(residentId) }));
      } catch (exc) {
        replace(status, t("risk.visit_failed", { message: exc.message }));
      }
      await view.refresh();
    }

    function visitButtons(residentId) {
      return ["well", "concern", "not_at_home"].map((found) =>
        h(
          "button",
          { type: "button", class: `visit visit-${found}`, dataset: { resident: residentId, found }, onclick: () => visit(residentId, found) },
          t(`risk.found.${found}`),
        ),
      );
    }

    replace(
      main,
      h("h1", null, t("risk.title")),
      h("p", null, h("label", { for: "risk-community" }, t("risk.community")), " ", picker),
      status,
      body,
      h("p", { class: "muted" }, t("risk.help")),
    );
    picker.addEventListener("change", () => view.refresh());
    view = {
      async refresh() {
        if (!names.size) {
          const table = await api("/api/v1/risk/tags");
          const zh = language() === "zh-CN";
          names = new Map(table.map((tag) => [tag.id, zh ? tag.name_zh : tag.name_en]));
        }
        const communities = ctx.communities;
        if (!picker.options.length) {
          for (const c of communities) picker.append(h("option", { value: c.id }, c.name));
        }
        if (!picker.value) {
          replace(body, h("p", { class: "muted" }, t("risk.no_community")));
          return;
        }
        const board = await api(`/api/v1/risk/board?community_id=${encodeURIComponent(picker.value)}`);
        const zh = language() === "zh-CN";
        replace(
          body,
          h("h2", null, t("risk.visits", { day: board.day })),
          board.visits.length
            ? board.visits.map((list) =>
                h(
                  "section",
                  { class: "card visit-list", dataset: { worker: list.worker_id || "" } },
                  h("h3", null, list.worker_name || t("risk.no_worker")),
                  h(
                    "ol",
                    null,
                    list.residents.map((r) =>
                      h(
                        "li",
                        { dataset: { resident: r.resident_id } },
                        h("strong", null, residentLink(r.resident_id, r.resident_name)),
                        ` ${r.address} `,
                        visitButtons(r.resident_id),
                        h("ul", null, (zh ? r.why_zh : r.why_en).map((why) => h("li", { class: "muted" }, why))),
                      ),
                    ),
                  ),
                ),
              )
            : h("p", { class: "muted", id: "risk-no-visits" }, t("risk.no_visits")),
          h("h2", null, t("risk.ranked")),
          table(
            [
              [t("risk.col.resident"), (e) => residentLink(e.resident_id, e.resident_name)],
              [t("risk.col.weight"), (e) => e.weight, "num"],
              [t("risk.col.tags"), (e) => e.tags.map(tagBadge).flatMap((b, i) => (i ? [h("br"), b] : [b]))],
              [t("risk.col.changes"), (e) => changes(e, names)],
              [t("risk.col.worker"), (e) => e.worker_name || t("dash")],
              [t("risk.col.visited"), (e) => e.visited_on || t("dash")],
            ],
            board.entries,
            { empty: t("risk.empty"), rowAttrs: (e) => ({ dataset: { resident: e.resident_id }, class: e.needs_visit ? "attention" : "" }) },
          ),
        );
      },
    };
    return view;
  },
};
