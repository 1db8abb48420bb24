// Gateways: online state (retained status and heartbeat), last heartbeat, the outbox
// backlog waiting on the box, and whether it runs the config the fleet wants.

import { api } from "../api.js";
import { badge, h, replace, table } from "../dom.js";
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
    const list = h("div", { id: "gateway-list" });
    replace(main, h("h1", null, t("gateways.title")), list);
    return {
      async refresh() {
        const gateways = await api("/api/v1/gateway-status");
        replace(
          list,
          table(
            [
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
            ],
            gateways,
            { empty: t("gateways.empty"), rowAttrs: (g) => ({ dataset: { gateway: g.id, connection: g.connection } }) },
          ),
        );
      },
    };
  },
};
