// A list that pages on the server: search, filters, sortable columns, a pager and a
// CSV export of the same filtered, sorted list. The fleet counts the matches
// (X-Total-Count), so the page never loads more than one page of rows.

import { apiList, ApiError, download } from "./api.js";
import { h, replace } from "./dom.js";
import { t } from "./i18n.js";

export const PAGE_SIZES = [25, 50, 100];
const SEARCH_DELAY_MS = 300;

// columns: [{label, cell(row), sort?: "name", cls?}]
// filters: [{name, label, options: [[value, label], …]}] (the first option: no filter)
export function pagedList({
  id,
  path,
  columns,
  filters = [],
  search = true,
  defaultSort,
  pageSize = 50,
  rowAttrs,
  empty,
  csvName,
  onData,
}) {
  const state = { offset: 0, limit: pageSize, sort: defaultSort, q: "", values: {} };
  let lastShown = "";
  const status = h("p", { class: "pager-status", id: `${id}-status`, role: "status", "aria-live": "polite" });
  const body = h("div", { class: "list-body", id: `${id}-table` });
  const error = h("p", { class: "error hidden", role: "alert" });
  const prev = h("button", { type: "button", id: `${id}-prev`, onclick: () => move(-1) }, t("list.prev"));
  const next = h("button", { type: "button", id: `${id}-next`, onclick: () => move(1) }, t("list.next"));
  let timer = null;

  const controls = [];
  if (search) {
    const input = h("input", {
      type: "search",
      id: `${id}-q`,
      maxlength: 80,
      autocomplete: "off",
      placeholder: t("list.search_placeholder"),
      oninput: () => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          state.q = input.value.trim();
          state.offset = 0;
          view.refresh();
        }, SEARCH_DELAY_MS);
      },
    });
    controls.push(h("label", { for: `${id}-q` }, t("list.search")), input);
  }
  for (const filter of filters) {
    const select = h(
      "select",
      {
        id: `${id}-${filter.name}`,
        onchange: () => {
          state.values[filter.name] = select.value;
          state.offset = 0;
          view.refresh();
        },
      },
      filter.options.map(([value, label]) => h("option", { value }, label)),
    );
    if (filter.initial) {
      select.value = filter.initial;
      state.values[filter.name] = filter.initial;
    }
    controls.push(h("label", { for: select.id }, filter.label), select);
  }
  const size = h(
    "select",
    {
      id: `${id}-size`,
      onchange: () => {
        state.limit = Number(size.value);
        state.offset = 0;
        view.refresh();
      },
    },
    PAGE_SIZES.map((n) => h("option", { value: n }, String(n))),
  );
  size.value = String(pageSize);
  const csv = h(
    "button",
    {
      type: "button",
      id: `${id}-csv`,
      onclick: async () => {
        try {
          await download(query({ format: "csv" }), csvName || `${id}.csv`);
        } catch (exc) {
          if (!(exc instanceof ApiError)) throw exc;
          showError(exc);
        }
      },
    },
    t("list.csv"),
  );
  controls.push(h("label", { for: size.id }, t("list.page_size")), size, csv);

  const element = h(
    "section",
    { class: "paged-list", id },
    h("div", { class: "controls", role: "search" }, controls),
    error,
    body,
    h("nav", { class: "pager", "aria-label": t("list.pager") }, prev, status, next),
  );

  function query(extra = {}) {
    const params = new URLSearchParams();
    if (!extra.format) {
      params.set("limit", state.limit);
      params.set("offset", state.offset);
    }
    if (state.sort) params.set("sort", state.sort);
    if (state.q) params.set("q", state.q);
    for (const [name, value] of Object.entries(state.values)) {
      if (!value) continue;
      for (const one of String(value).split(",")) params.append(name, one);
    }
    for (const [name, value] of Object.entries(extra)) params.set(name, value);
    return `${path}${path.includes("?") ? "&" : "?"}${params}`;
  }

  function move(step) {
    state.offset = Math.max(0, state.offset + step * state.limit);
    view.refresh();
  }

  function showError(exc) {
    replace(error, t("app.error", { message: exc.message }));
    error.classList.remove("hidden");
  }

  function header(column) {
    if (!column.sort) return h("th", { class: column.cls, scope: "col" }, column.label);
    const current = state.sort === column.sort ? "ascending" : state.sort === `-${column.sort}` ? "descending" : "none";
    return h(
      "th",
      { class: column.cls, scope: "col", "aria-sort": current },
      h(
        "button",
        {
          type: "button",
          class: "sort",
          dataset: { sort: column.sort },
          onclick: () => {
            state.sort = current === "ascending" ? `-${column.sort}` : column.sort;
            state.offset = 0;
            view.refresh();
          },
        },
        column.label,
        h("span", { "aria-hidden": "true" }, current === "ascending" ? " ▲" : current === "descending" ? " ▼" : ""),
      ),
    );
  }

  function render(rows, total) {
    const from = total === 0 ? 0 : state.offset + 1;
    const to = state.offset + rows.length;
    replace(status, t("list.status", { from, to, total }));
    prev.disabled = state.offset === 0;
    next.disabled = to >= total;
    const shown = JSON.stringify([rows, state.sort]);
    if (shown === lastShown) return; // unchanged: keep the table (and its scroll) as it is
    lastShown = shown;
    const table = h(
      "table",
      null,
      h("thead", null, h("tr", null, columns.map(header))),
      h(
        "tbody",
        null,
        rows.map((row) => h("tr", rowAttrs ? rowAttrs(row) : null, columns.map((c) => h("td", { class: c.cls }, c.cell(row))))),
        rows.length ? null : h("tr", null, h("td", { colspan: columns.length, class: "empty" }, empty || t("list.empty"))),
      ),
    );
    replace(body, table);
  }

  const view = {
    element,
    get state() {
      return state;
    },
    async refresh() {
      let result;
      try {
        result = await apiList(query());
      } catch (exc) {
        if (!(exc instanceof ApiError)) throw exc;
        showError(exc);
        return;
      }
      error.classList.add("hidden");
      // A page past the end (rows removed meanwhile): step back to the last page.
      if (result.rows.length === 0 && state.offset > 0 && result.total > 0) {
        state.offset = Math.floor((result.total - 1) / state.limit) * state.limit;
        return view.refresh();
      }
      if (onData) onData(result.data);
      render(result.rows, result.total);
    },
  };
  return view;
}
