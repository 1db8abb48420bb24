// Charts drawn with uPlot (vendored in vendor/uplot, see vendor/README.md). Each chart
// has a text alternative: a summary sentence for screen readers and a table of the
// figures under a disclosure. A series with no data is said in words, not drawn as an
// empty axis.

import uPlot from "./vendor/uplot/uPlot.esm.js";
import { h } from "./dom.js";
import { formatNumber, t, TIME_ZONE } from "./i18n.js";

export const COLOURS = ["#1f6feb", "#c62828", "#2e7d32", "#b7791f", "#6a1b9a", "#00838f"];
const HEIGHT = 220;

// A date "2026-05-01" as the Unix second of its Beijing midnight.
export function daySeconds(day) {
  return Date.parse(`${day}T00:00:00+08:00`) / 1000;
}

function hasData(series) {
  return series.some((s) => s.values.some((v) => v !== null && v !== undefined));
}

// series: [{label, values (aligned with xs), colour?, dash?, bars?}]
export function timeChart({ id, title, xs, series, unit, digits = 0, emptyText, xLabels }) {
  const figure = h("figure", { class: "chart", id });
  figure.append(h("figcaption", null, title));
  if (!hasData(series)) {
    figure.append(h("p", { class: "chart-empty", dataset: { empty: "true" } }, emptyText || t("chart.no_data")));
    return figure;
  }
  // The canvas and uPlot's legend are for the eye; a screen reader gets the summary
  // sentence here and the figures in the table below.
  const plot = h("div", { class: "chart-plot", "aria-hidden": "true" });
  figure.append(h("p", { class: "visually-hidden" }, summary(title, series, unit, digits)), plot);
  const width = () => Math.max(280, Math.min(plot.clientWidth || 560, 900));
  const opts = {
    width: 560,
    height: HEIGHT,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), TIME_ZONE),
    legend: { show: true },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true } },
    axes: [{}, { values: (u, splits) => splits.map((v) => formatNumber(v, digits)) }],
    series: [
      { label: t("chart.when") },
      ...series.map((s, i) => ({
        label: s.label,
        stroke: s.colour || COLOURS[i % COLOURS.length],
        width: s.dash ? 1.5 : 2,
        dash: s.dash ? [6, 4] : undefined,
        points: { show: !s.dash },
        spanGaps: false,
        value: (u, v) => (v === null || v === undefined ? t("dash") : `${formatNumber(v, digits)} ${unit || ""}`.trim()),
      })),
    ],
  };
  const data = [xs, ...series.map((s) => s.values)];
  // uPlot measures its container: draw once the figure is in the document.
  requestAnimationFrame(() => {
    const chart = new uPlot({ ...opts, width: width() }, data, plot);
    figure.dataset.drawn = "true";
    new ResizeObserver(() => chart.setSize({ width: width(), height: HEIGHT })).observe(plot);
  });
  figure.append(figureTable(title, xLabels || xs.map(String), series, unit, digits));
  return figure;
}

function summary(title, series, unit, digits) {
  return series
    .map((s) => {
      const known = s.values.filter((v) => v !== null && v !== undefined);
      if (!known.length) return `${s.label}: ${t("chart.no_data")}`;
      const last = known[known.length - 1];
      return t("chart.summary", { label: s.label, last: `${formatNumber(last, digits)} ${unit || ""}`.trim(), n: known.length });
    })
    .join("；")
    .replace(/^/, `${title}。`);
}

function figureTable(title, labels, series, unit, digits) {
  return h(
    "details",
    { class: "chart-table" },
    h("summary", null, t("chart.show_table")),
    h(
      "table",
      null,
      h("caption", { class: "visually-hidden" }, title),
      h("thead", null, h("tr", null, h("th", { scope: "col" }, t("chart.when")), series.map((s) => h("th", { scope: "col" }, s.label)))),
      h(
        "tbody",
        null,
        labels.map((label, i) =>
          h(
            "tr",
            null,
            h("th", { scope: "row" }, label),
            series.map((s) => h("td", { class: "num" }, s.values[i] === null || s.values[i] === undefined ? t("dash") : `${formatNumber(s.values[i], digits)}${unit ? ` ${unit}` : ""}`)),
          ),
        ),
      ),
    ),
  );
}
