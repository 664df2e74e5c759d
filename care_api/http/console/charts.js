// Small SVG charts drawn by hand: stacked daily bars and horizontal bars with a target line.

import { h, s } from "./dom.js";

/** A round step for about `parts` gridlines up to `max`. */
function niceStep(max, parts = 4) {
  const raw = Math.max(max, 1) / parts;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((c) => c >= raw);
  return Math.max(1, step);
}

/**
 * Stacked bars: one bar per day, one segment per series (CSS class `k-<series>`).
 * `days` is [{day: "2026-11-22", counts: {emergency: 3, …}}].
 */
export function stackedBars(days, series, labelOf, { width = 1200, height = 240 } = {}) {
  const pad = { left: 34, right: 8, top: 20, bottom: 26 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const totals = days.map((d) => series.reduce((sum, k) => sum + (d.counts[k] || 0), 0));
  const step = niceStep(Math.max(0, ...totals));
  const top = Math.max(step, Math.ceil(Math.max(0, ...totals) / step) * step);
  const y = (v) => pad.top + plotH - (v / top) * plotH;
  const slot = plotW / Math.max(days.length, 1);
  const barW = Math.max(4, Math.min(36, slot * 0.7));
  const labelEvery = Math.ceil(days.length / 12);

  const grid = [];
  for (let v = 0; v <= top; v += step) {
    grid.push(s("line", { class: "gridline", x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v) }));
    grid.push(s("text", { class: "tick", x: pad.left - 4, y: y(v) + 4, "text-anchor": "end" }, String(v)));
  }
  const bars = days.map((d, i) => {
    const x = pad.left + i * slot + (slot - barW) / 2;
    let base = 0;
    const segments = series.filter((k) => d.counts[k]).map((k) => {
      const value = d.counts[k];
      const rect = s("rect", { class: `seg k-${k}`, x, width: barW, y: y(base + value),
        height: Math.max(0, y(base) - y(base + value)) },
      s("title", {}, `${d.day} · ${labelOf(k)}: ${value}`));
      base += value;
      return rect;
    });
    const label = i % labelEvery === 0
      ? s("text", { class: "tick", x: x + barW / 2, y: height - 8, "text-anchor": "middle" }, d.day.slice(5))
      : null;
    const total = totals[i]
      ? s("text", { class: "total", x: x + barW / 2, y: y(totals[i]) - 3, "text-anchor": "middle" }, String(totals[i]))
      : null;
    return s("g", { class: "day", "data-day": d.day, "data-total": totals[i] }, segments, label, total);
  });
  return s("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img" }, grid, bars);
}

/**
 * Horizontal bars, one per item {label, value, text, cls}; `max` is the full scale and
 * `target`, when given, draws a dashed line at that value.
 */
export function hBars(items, { max, target } = {}) {
  const width = 640;
  const rowH = 26;
  const labelW = 150;
  const valueW = 80;
  const plotW = width - labelW - valueW;
  const height = items.length * rowH + 6;
  const full = max ?? Math.max(1, ...items.map((i) => i.value || 0));
  const x = (v) => labelW + (Math.min(v, full) / full) * plotW;
  const rows = items.map((item, i) => {
    const yTop = 3 + i * rowH;
    return s("g", { class: "hbar" },
      s("text", { class: "label", x: labelW - 8, y: yTop + 17, "text-anchor": "end" }, item.label),
      s("rect", { class: "track", x: labelW, y: yTop + 4, width: plotW, height: rowH - 8 }),
      item.value === null || item.value === undefined ? null
        : s("rect", { class: `bar ${item.cls || ""}`, x: labelW, y: yTop + 4,
          width: Math.max(0, x(item.value) - labelW), height: rowH - 8 }),
      s("text", { class: "value", x: labelW + plotW + 8, y: yTop + 17 }, item.text));
  });
  const targetLine = target === undefined ? null
    : s("line", { class: "target", x1: x(target), x2: x(target), y1: 0, y2: height });
  return s("svg", { class: "chart hbars", viewBox: `0 0 ${width} ${height}`, role: "img" }, rows, targetLine);
}

/** A legend of coloured swatches for the series. */
export function legend(series, labelOf) {
  return h("div", { class: "legend" }, series.map((k) =>
    h("span", { class: "key" }, h("span", { class: `swatch k-${k}` }), labelOf(k))));
}
