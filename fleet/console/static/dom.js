// Building pages from DOM nodes and text only: no string ever becomes HTML (the
// Content Security Policy's Trusted Types setting would refuse it anyway).

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "class") {
      el.className = value;
    } else if (name === "dataset") {
      Object.assign(el.dataset, value);
    } else if (name === "value" || name === "checked" || name === "disabled") {
      el[name] = value;
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

// A table: columns are [label, (row) => cell content, optional class].
export function table(columns, rows, { rowAttrs, empty } = {}) {
  const head = h("thead", null, h("tr", null, columns.map(([label, , cls]) => h("th", { class: cls }, label))));
  const body = h(
    "tbody",
    null,
    rows.map((row) =>
      h("tr", rowAttrs ? rowAttrs(row) : null, columns.map(([, cell, cls]) => h("td", { class: cls }, cell(row)))),
    ),
  );
  if (!rows.length && empty) {
    body.append(h("tr", null, h("td", { colspan: columns.length, class: "empty" }, empty)));
  }
  return h("table", null, head, body);
}

export function badge(text, cls) {
  return h("span", { class: `badge ${cls || ""}`.trim() }, text);
}
