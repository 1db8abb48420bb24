// People named as people: a resident's name links to their page, a caregiver or a
// member of staff shows by name; the opaque id is only in the tooltip (title).

import { h } from "./dom.js";
import { t } from "./i18n.js";

export function residentLink(id, name) {
  if (!id) return t("dash");
  return h("a", { href: `#/resident/${encodeURIComponent(id)}`, title: id, class: "resident-link", dataset: { resident: id } }, name || id);
}

// An actor from an alert's log: "contact:c-1", "staff:wang.li", "fleet:…", "gateway:gw-01".
export function actor(value, name) {
  if (!value) return t("dash");
  const [kind, ...rest] = String(value).split(":");
  const subject = rest.join(":");
  if (name) return h("span", { title: value, class: "person" }, name);
  if (kind === "fleet" || kind === "system") return h("span", { title: value }, t("actor.fleet"));
  if (kind === "gateway") return h("span", { title: value }, t("actor.gateway", { id: subject }));
  return h("span", { title: value }, subject || value);
}

export function person(id, name) {
  if (!id) return t("dash");
  return h("span", { title: id, class: "person" }, name || id);
}
