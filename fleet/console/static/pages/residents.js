// Residents: the list of the people the caller may see, paged on the server, each
// name leading to the resident's page.

import { h, replace } from "../dom.js";
import { t } from "../i18n.js";
import { pagedList } from "../list.js";
import { person, residentLink } from "../people.js";

export default {
  id: "residents",
  nav: "nav.residents",
  // People move in and out rarely; the list need not be asked for every 5 s.
  pollMs: 30000,
  mount(main, ctx) {
    const list = pagedList({
      id: "resident-list",
      path: "/api/v1/residents",
      defaultSort: "name",
      csvName: "residents.csv",
      filters: [
        ...(ctx.isStaff && ctx.communities.length > 1
          ? [{ name: "community_id", label: t("residents.col.community"), options: [["", t("list.any")], ...ctx.communities.map((c) => [c.id, c.name])] }]
          : []),
        ...(ctx.grids.length
          ? [{ name: "grid_id", label: t("residents.col.grid"), options: [["", t("list.any")], ...ctx.grids.map((g) => [g.id, g.name])] }]
          : []),
      ],
      columns: [
        { label: t("residents.col.name"), sort: "name", cell: (r) => residentLink(r.id, r.display_name) },
        { label: t("residents.col.community"), sort: "community", cell: (r) => person(r.community_id, ctx.communityName(r.community_id)) },
        { label: t("residents.col.grid"), sort: "grid", cell: (r) => r.grid_id || t("dash") },
        { label: t("residents.col.address"), sort: "address", cell: (r) => r.address || t("dash"), cls: "wrap" },
        { label: t("residents.col.band"), cell: (r) => (r.wristband ? h("code", null, r.wristband) : t("residents.no_band")) },
      ],
      empty: t("residents.empty"),
      rowAttrs: (r) => ({ dataset: { resident: r.id } }),
    });
    replace(main, h("h1", null, t("residents.title")), list.element);
    return { refresh: () => list.refresh() };
  },
};
