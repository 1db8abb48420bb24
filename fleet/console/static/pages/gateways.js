// Gateways: online state (retained status and heartbeat), last heartbeat, the outbox
// backlog waiting on the box, and whether it runs the config the fleet wants.

import { badge, h, replace } from "../dom.js";
import { pagedList } from "../list.js";
import { formatAgo, formatDuration, formatTime, t, term } from "../i18n.js";

// A part of the config the gateway could not apply: what, which one, and why, so staff
// can fix the registry entry (a meter on the wrong port, a band with a damaged key).
function setAside(parts) {
  if (!parts || parts.length === 0) return null;
  return h(
    "details",
    { class: "set-aside" },
    h("summary", null, badge(t("gateways.set_aside", { n: parts.length }), "warn")),
    h(
      "ul",
      { "aria-label": t("gateways.set_aside_title") },
      parts.map((p) => h("li", null, `${term("gateways.section", p.section)} `, h("code", null, p.name), `: ${p.reason}`)),
    ),
  );
}

export default {
  id: "gateways",
  nav: "nav.gateways",
  staffOnly: true,
  mount(main, ctx) {
    const columns = columnsOf(ctx);
    const list = pagedList({
      id: "gateway-list",
      path: "/api/v1/gateway-status",
      defaultSort: "id",
      csvName: "gateways.csv",
      filters: [
        {
          name: "connection",
          label: t("gateways.col.connection"),
          options: [["", t("list.any")], ...CONNECTIONS.map((c) => [c, term("connection", c)])],
        },
        ...(ctx.communities.length > 1
          ? [{ name: "community_id", label: t("gateways.col.communities"), options: [["", t("list.any")], ...ctx.communities.map((c) => [c.id, c.name])] }]
          : []),
      ],
      columns,
      empty: t("gateways.empty"),
      rowAttrs: (g) => ({ dataset: { gateway: g.id, connection: g.connection } }),
    });
    replace(main, h("h1", null, t("gateways.title")), list.element);
    return { refresh: () => list.refresh() };
  },
};

const CONNECTIONS = ["online", "silent", "offline", "unknown"];

// The table's columns; those with a sort name can be sorted by the fleet.
function columnsOf(ctx) {
  const sorts = ["id", "location", null, "connection", "heartbeat", null, "backlog", null, null];
  return [
              [t("gateways.col.id"), (g) => [h("code", null, g.id), g.registered ? null : [" ", badge(t("gateways.unregistered"), "muted")]]],
              [t("gateways.col.location"), (g) => g.location || t("dash")],
              [t("gateways.col.communities"), (g) => g.communities.map((c) => ctx.communityName(c)).join("、") || t("dash")],
              [t("gateways.col.connection"), (g) => badge(term("connection", g.connection), `conn-${g.connection}`)],
              [t("gateways.col.heartbeat"), (g) => (g.heartbeat_at ? [formatTime(g.heartbeat_at), h("br"), h("span", { class: "muted" }, formatAgo(g.heartbeat_at))] : t("time.never"))],
              [t("gateways.col.uptime"), (g) => formatDuration(g.uptime_s)],
              [t("gateways.col.backlog"), (g) => `${g.outbox_events ?? t("dash")} / ${g.outbox_telemetry ?? t("dash")}`, "num"],
              [
                t("gateways.col.config"),
                (g) =>
                  g.desired_version === null
                    ? t("dash")
                    : g.state !== "enrolled"
                      ? badge(term("gateway_state", g.state), "muted")
                      : [
                        `${g.desired_version} / ${g.reported_version ?? t("dash")} `,
                        badge(g.config_in_sync ? t("gateways.in_sync") : t("gateways.out_of_sync"), g.config_in_sync ? "ok" : "warn"),
                        setAside(g.reported_set_aside),
                      ],
              ],
              [t("gateways.col.version"), (g) => g.software_version || t("dash")],
  ].map(([label, cell, cls], i) => ({ label, cell, cls, sort: sorts[i] }));
}
