// Wristbands: the registry table, registering one band, and the bulk CSV import whose
// dry run is shown row by row before anything is applied.

import { api, ApiError } from "../api.js";
import { badge, h, replace, table } from "../dom.js";
import { formatTime, t, term } from "../i18n.js";
import { pagedList } from "../list.js";
import { person, residentLink } from "../people.js";

function field(id, label, input) {
  return h("div", { class: "field" }, h("label", { for: id }, label), input);
}

export default {
  id: "wristbands",
  nav: "nav.wristbands",
  // The registry changes when someone registers bands, not by itself.
  pollMs: 30000,
  mount(main, ctx) {
    const list = pagedList({
      id: "band-list",
      path: "/api/v1/wristbands",
      defaultSort: "mac",
      csvName: "wristbands.csv",
      filters: [
        {
          name: "state",
          label: t("wristbands.col.state"),
          options: [["", t("list.any")], ["active", term("wristbands.state", "active")], ["retired", term("wristbands.state", "retired")]],
        },
        ...(ctx.isStaff && ctx.communities.length > 1
          ? [{ name: "community_id", label: t("wristbands.col.community"), options: [["", t("list.any")], ...ctx.communities.map((c) => [c.id, c.name])] }]
          : []),
      ],
      columns: [
        { label: t("wristbands.col.mac"), sort: "mac", cell: (b) => h("code", null, b.mac) },
        {
          label: t("wristbands.col.resident"),
          sort: "resident",
          cell: (b) => (b.resident_id ? residentLink(b.resident_id, b.resident_name || ctx.residentName(b.resident_id)) : t("wristbands.stock")),
        },
        { label: t("wristbands.col.community"), sort: "community", cell: (b) => person(b.community_id, ctx.communityName(b.community_id)) },
        { label: t("wristbands.col.firmware"), sort: "firmware", cell: (b) => b.firmware || t("dash") },
        { label: t("wristbands.col.state"), sort: "state", cell: (b) => badge(term("wristbands.state", b.state), `band-${b.state}`) },
        { label: t("wristbands.col.registered"), sort: "registered", cell: (b) => formatTime(b.created_at) },
      ],
      empty: t("wristbands.empty"),
      rowAttrs: (b) => ({ dataset: { mac: b.mac } }),
    });
    const parts = [h("h1", null, t("wristbands.title"))];
    if (ctx.isStaff) {
      parts.push(h("div", { class: "forms" }, registerForm(ctx), importForm(ctx)));
    }
    parts.push(list.element);
    replace(main, parts);
    return { refresh: () => list.refresh() };
  },
};

function registerForm(ctx) {
  const message = h("p", { class: "message", role: "status", id: "register-message" });
  const mac = h("input", { id: "band-mac", required: true, placeholder: "C2:00:00:00:00:01", autocomplete: "off" });
  const key = h("input", { id: "band-key", type: "password", required: true, autocomplete: "off", pattern: "\\s*[0-9A-Fa-f]{32}\\s*" });
  // The wearer is found by name as one types (the fleet searches; 867 residents make
  // too long a list to scroll): the value sent is the resident's id.
  const options = h("datalist", { id: "band-resident-options" });
  let searchTimer = null;
  const resident = h("input", {
    id: "band-resident",
    list: "band-resident-options",
    autocomplete: "off",
    maxlength: 40,
    placeholder: t("wristbands.resident_search"),
    oninput: () => {
      clearTimeout(searchTimer);
      const text = resident.value.trim();
      if (!text) return;
      searchTimer = setTimeout(async () => {
        const found = await api(`/api/v1/residents?limit=20&sort=name&q=${encodeURIComponent(text)}`);
        replace(
          options,
          found.filter((r) => !r.wristband).map((r) => h("option", { value: r.id }, `${r.display_name} · ${r.address}`)),
        );
      }, 250);
    },
  });
  const community = h(
    "select",
    { id: "band-community" },
    h("option", { value: "" }, t("dash")),
    ctx.communities.map((c) => h("option", { value: c.id }, `${c.name} (${c.id})`)),
  );
  const firmware = h("input", { id: "band-firmware", maxlength: 40, autocomplete: "off" });
  const form = h(
    "form",
    {
      class: "card",
      id: "register-form",
      onsubmit: async (event) => {
        event.preventDefault();
        const body = { mac: mac.value.trim(), bind_key: key.value.trim(), firmware: firmware.value.trim() };
        if (resident.value.trim()) body.resident_id = resident.value.trim();
        if (community.value) body.community_id = community.value;
        try {
          const band = await api("/api/v1/wristbands", { method: "POST", json: body });
          key.value = "";
          mac.value = "";
          replace(message, t("wristbands.registered", { mac: band.mac }));
          message.className = "message ok";
        } catch (exc) {
          if (!(exc instanceof ApiError)) throw exc;
          replace(message, t("app.error", { message: exc.message }));
          message.className = "message error";
        }
        await ctx.refreshNow();
      },
    },
    h("h2", null, t("wristbands.register")),
    field("band-mac", t("wristbands.mac"), mac),
    field("band-key", t("wristbands.bind_key"), key),
    field("band-resident", t("wristbands.resident"), resident),
    options,
    field("band-community", t("wristbands.community"), community),
    field("band-firmware", t("wristbands.firmware"), firmware),
    h("button", { type: "submit", id: "band-submit" }, t("wristbands.submit")),
    message,
  );
  return form;
}

function importForm(ctx) {
  const report = h("div", { id: "import-report" });
  const file = h("input", { id: "import-file", type: "file", accept: ".csv,text/csv" });
  let checked = null; // {file, result}: what the last dry run said about which file
  const apply = h("button", { type: "button", id: "import-apply", disabled: true }, t("wristbands.apply"));

  function same(f) {
    return checked && f && checked.file.name === f.name && checked.file.size === f.size && checked.file.lastModified === f.lastModified;
  }

  async function send(dryRun) {
    const chosen = file.files[0];
    if (!chosen) return null;
    // The bytes as they are: the fleet reads UTF-8 and GB18030 (what Excel in China saves).
    const body = await chosen.arrayBuffer();
    try {
      return {
        file: chosen,
        result: await api(`/api/v1/wristbands/import?dry_run=${dryRun}`, {
          method: "POST",
          body,
          headers: { "Content-Type": "text/csv" },
        }),
      };
    } catch (exc) {
      if (!(exc instanceof ApiError)) throw exc;
      if (exc.data && typeof exc.data === "object" && "rows" in exc.data) return { file: chosen, result: exc.data };
      replace(report, h("p", { class: "message error" }, t("app.error", { message: exc.message })));
      return null;
    }
  }

  function show(result) {
    const ok = result.error_rows === 0;
    replace(
      report,
      h("p", { id: "import-summary" }, t("wristbands.report", { rows: result.rows, valid: result.valid_rows, errors: result.error_rows })),
      result.applied
        ? h("p", { class: "message ok", id: "import-done" }, t("wristbands.imported", { created: result.created }))
        : h("p", { class: ok ? "message ok" : "message error" }, ok ? t("wristbands.report_ok") : t("wristbands.report_bad")),
      result.errors.length
        ? table(
            [
              [t("wristbands.col.row"), (e) => String(e.row)],
              [t("wristbands.col.column"), (e) => e.column],
              [t("wristbands.col.mac"), (e) => h("code", null, e.mac)],
              [t("wristbands.col.message"), (e) => e.message, "wrap"],
            ],
            result.errors,
            { rowAttrs: (e) => ({ dataset: { row: e.row } }) },
          )
        : null,
    );
  }

  file.addEventListener("change", () => {
    checked = null;
    apply.disabled = true;
    replace(report);
  });
  apply.addEventListener("click", async () => {
    if (!same(file.files[0]) || checked.result.error_rows) return;
    apply.disabled = true;
    const sent = await send(false);
    if (sent) show(sent.result);
    checked = null;
    await ctx.refreshNow();
  });
  const check = h(
    "button",
    {
      type: "button",
      id: "import-check",
      onclick: async () => {
        const sent = await send(true);
        if (!sent) return;
        checked = sent;
        show(sent.result);
        apply.disabled = sent.result.error_rows !== 0 || sent.result.rows === 0;
      },
    },
    t("wristbands.check"),
  );
  return h(
    "section",
    { class: "card", id: "import-form" },
    h("h2", null, t("wristbands.import")),
    h("p", { class: "muted" }, t("wristbands.import_help")),
    field("import-file", t("wristbands.file"), file),
    h("div", { class: "actions" }, check, apply),
    report,
  );
}
