// Charts drawn as SVG by hand: a stacked bar chart, a meter (a part against a whole) and a sparkline.
//
// No chart library: the page must work offline from a fresh clone, and these three shapes are a few rectangles
// and a polyline each. Counts are small Numbers; money ratios arrive as basis points computed on BigInts.

import { s, h } from "./dom.js";

/** Horizontal stacked bars: rows [{label, parts: [{key, value}]}], colours by key from `palette` (CSS classes). */
export function stackedBars(rows, { palette = (key) => `seg-${key}`, width = 460, barHeight = 22, gap = 12 } = {}) {
  const labelWidth = 120;
  const countWidth = 44;
  const track = width - labelWidth - countWidth;
  const max = Math.max(1, ...rows.map((row) => row.parts.reduce((sum, part) => sum + part.value, 0)));
  const height = rows.length * (barHeight + gap);
  const svg = s("svg", { viewBox: `0 0 ${width} ${Math.max(height, barHeight)}`, class: "chart", role: "img" });
  const described = [];
  rows.forEach((row, i) => {
    const y = i * (barHeight + gap);
    const total = row.parts.reduce((sum, part) => sum + part.value, 0);
    svg.append(s("text", { x: 0, y: y + barHeight * 0.7, class: "chart-label" }, row.label));
    svg.append(s("rect", { x: labelWidth, y, width: track, height: barHeight, rx: 4, class: "chart-track" }));
    let x = labelWidth;
    for (const part of row.parts) {
      if (part.value <= 0) continue;
      const w = (part.value / max) * track;
      svg.append(
        s("rect", { x, y, width: Math.max(w, 1.5), height: barHeight, class: `chart-seg ${palette(part.key)}` },
          s("title", null, `${row.label}, ${part.key}: ${part.value}`)),
      );
      x += w;
    }
    svg.append(s("text", { x: width, y: y + barHeight * 0.7, class: "chart-count", "text-anchor": "end" }, String(total)));
    described.push(`${row.label} ${total} (${row.parts.map((p) => `${p.key} ${p.value}`).join(", ")})`);
  });
  svg.setAttribute("aria-label", described.join("; "));
  return svg;
}

/** A legend for stackedBars: the keys with their colour swatches. */
export function legend(keys, palette = (key) => `seg-${key}`) {
  return h(
    "ul",
    { class: "legend" },
    keys.map((key) => h("li", null, s("svg", { viewBox: "0 0 10 10", class: "swatch", "aria-hidden": "true" }, s("rect", { width: 10, height: 10, rx: 2, class: palette(key) })), key)),
  );
}

/** A meter: `bp` basis points (0 to 10000+) of a track, with a tone (ok, warn, bad) and an accessible label. */
export function meter(bp, { tone = "ok", label = "", marker = null } = {}) {
  const width = 300;
  const height = 12;
  const shown = Math.max(0, Math.min(bp, 10000));
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none", class: "meter", role: "img", "aria-label": label });
  svg.append(s("rect", { x: 0, y: 0, width, height, rx: 6, class: "meter-track" }));
  if (shown > 0) svg.append(s("rect", { x: 0, y: 0, width: Math.max((shown / 10000) * width, 3), height, rx: 6, class: `meter-fill meter-${tone}` }));
  if (marker !== null) {
    const x = (Math.max(0, Math.min(marker, 10000)) / 10000) * width;
    svg.append(s("rect", { x: Math.min(x, width - 2), y: 0, width: 2, height, class: "meter-marker" }));
  }
  return svg;
}

/** A sparkline of the last values (Numbers), with its area and the latest point marked. */
export function sparkline(values, { width = 220, height = 44, label = "" } = {}) {
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, class: "sparkline", role: "img", "aria-label": label });
  if (values.length === 0) return svg;
  const max = Math.max(1, ...values);
  const step = values.length > 1 ? width / (values.length - 1) : 0;
  const points = values.map((v, i) => [i * step, height - 3 - (v / max) * (height - 8)]);
  const line = points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" ");
  svg.append(s("polygon", { points: `0,${height} ${line} ${points.at(-1)[0].toFixed(1)},${height}`, class: "spark-area" }));
  svg.append(s("polyline", { points: line, class: "spark-line" }));
  const [x, y] = points.at(-1);
  svg.append(s("circle", { cx: x, cy: y, r: 3, class: "spark-dot" }));
  return svg;
}
