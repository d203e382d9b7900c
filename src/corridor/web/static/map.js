// The network map (GET /v1/network): each country's central bank with its members, and the correspondent link.
//
// Countries are laid out side by side; in each, the members (banks, the FX provider) stand in a column on the
// outer side and the central bank on the inner side, so the correspondent links between central banks run across
// the middle. Links are drawn under the boxes, the countries' panels under both.

import { s, fill, pill } from "./dom.js";

const NODE_W = 220;
const NODE_H = 58;
const ROW = 70;
const PAD = 16;
const LINE = 24;
const ROLE_NAMES = { central_bank: "central bank", bank: "bank", fx_provider: "FX provider" };

/** A name on at most two lines of LINE characters, broken at spaces; the second line ends in "…" if cut. */
function wrap(name) {
  const lines = [""];
  for (const word of name.split(/\s+/)) {
    const line = lines.at(-1);
    if (!line || line.length + 1 + word.length <= LINE) lines[lines.length - 1] = line ? `${line} ${word}` : word;
    else lines.push(word);
  }
  if (lines.length <= 2 && lines.every((l) => l.length <= LINE)) return lines;
  const second = lines.slice(1).join(" ");
  return [lines[0].slice(0, LINE), `${second.slice(0, LINE - 1)}…`];
}

function nodeBox(node, x, y) {
  const role = node.role in ROLE_NAMES ? node.role : "other";
  const lines = wrap(node.name);
  return s(
    "g",
    { class: `map-node map-${role}`, transform: `translate(${x},${y})`, "data-bic": node.bic },
    s("title", null, `${node.name} (${node.bic}), ${ROLE_NAMES[node.role] || node.role}, ${node.country}, ${node.currency}`),
    s("rect", { width: NODE_W, height: NODE_H, rx: 8 }),
    lines.map((line, i) => s("text", { x: 12, y: 19 + i * 15, class: "map-name" }, line)),
    s("text", { x: 12, y: 21 + lines.length * 15, class: "map-bic" }, `${node.bic} · ${ROLE_NAMES[node.role] || node.role}`),
  );
}

/** Draw `network` (the /v1/network answer) into `container`. */
export function renderMap(container, network) {
  const countries = [...new Set(network.nodes.map((n) => n.country))];
  const columns = countries.length;
  const panelW = 2 * NODE_W + 3 * PAD + 40;
  const gap = 150;
  const width = columns * panelW + (columns - 1) * gap;
  const rows = Math.max(1, ...countries.map((c) => network.nodes.filter((n) => n.country === c && n.role !== "central_bank").length));
  const height = 40 + rows * ROW;
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, class: "map", role: "img" });
  const place = new Map();
  const panels = s("g", null);
  const links = s("g", { class: "map-links" });
  const boxes = s("g", null);

  countries.forEach((country, i) => {
    const x0 = i * (panelW + gap);
    const outerLeft = i < columns / 2;
    const nodes = network.nodes.filter((n) => n.country === country);
    const central = nodes.find((n) => n.role === "central_bank");
    const members = nodes.filter((n) => n !== central);
    const currency = nodes[0]?.currency || "";
    panels.append(
      s("rect", { x: x0, y: 0, width: panelW, height, rx: 12, class: "map-country" }),
      s("text", { x: x0 + PAD, y: 24, class: "map-country-label" }, `${country} · ${currency}`),
    );
    const memberX = outerLeft ? x0 + PAD : x0 + panelW - PAD - NODE_W;
    const centralX = outerLeft ? x0 + panelW - PAD - NODE_W : x0 + PAD;
    members.forEach((node, j) => {
      const y = 40 + j * ROW;
      place.set(node.bic, { x: memberX, y, side: outerLeft ? "right" : "left" });
      boxes.append(nodeBox(node, memberX, y));
    });
    if (central) {
      const y = 40 + ((Math.max(members.length, 1) - 1) * ROW) / 2;
      place.set(central.bic, { x: centralX, y, side: outerLeft ? "left" : "right" });
      boxes.append(nodeBox(central, centralX, y));
    }
  });

  const anchor = (bic, towards) => {
    const p = place.get(bic);
    if (!p) return null;
    const right = towards === "right";
    return { x: right ? p.x + NODE_W : p.x, y: p.y + NODE_H / 2 };
  };
  for (const link of network.links) {
    const from = place.get(link.source);
    const to = place.get(link.target);
    if (!from || !to) continue;
    const eastward = from.x < to.x;
    const a = anchor(link.source, eastward ? "right" : "left");
    const b = anchor(link.target, eastward ? "left" : "right");
    const mid = (a.x + b.x) / 2;
    links.append(
      s("path", { d: `M${a.x},${a.y} C${mid},${a.y} ${mid},${b.y} ${b.x},${b.y}`, class: `map-link map-link-${link.kind}` }, s("title", null, `${link.source} — ${link.target}: ${link.kind}`)),
    );
    if (link.kind === "correspondent") {
      links.append(s("text", { x: mid, y: Math.min(a.y, b.y) - 10, class: "map-link-label", "text-anchor": "middle" }, "correspondent"));
    }
  }
  svg.append(panels, links, boxes);
  svg.setAttribute("aria-label", `${network.scenario}: ${network.nodes.map((n) => `${n.name} (${n.bic})`).join(", ")}`);
  fill(container, svg);
}

/** The rails the corridor runs, as pills under the map. */
export function renderRails(container, network) {
  const names = { credit_transfer: "credit transfers", card: "cards", token: "tokens" };
  fill(container, "Rails: ", network.rails.map((rail) => pill(names[rail] || rail, "neutral")));
}
