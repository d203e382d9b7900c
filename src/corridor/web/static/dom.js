// Building the page: elements from data without ever parsing data as markup, and exact number formatting.
//
// Every text from the API goes in as a text node (never innerHTML), so a participant's name cannot inject markup;
// the page's Content-Security-Policy would refuse to run it anyway. Money is shown as the API's own `text`; the few
// figures the API gives as bare integers (ledger counters, reserve totals) are BigInts formatted here as strings,
// never through a floating-point number.

const SVG = "http://www.w3.org/2000/svg";

function build(element, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** An HTML element: h("td", {class: "num"}, "12"). */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** An SVG element, same shape as h. */
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG, tag), attrs, children);
}

/** Put `children` in place of what `element` holds. */
export function fill(element, ...children) {
  element.replaceChildren();
  build(element, null, children);
  return element;
}

/** "1 250 000": a BigInt (or integer) with its thousands separated as the API's own amount texts are. */
export function groupDigits(value) {
  const digits = BigInt(value).toString();
  const negative = digits.startsWith("-");
  const bare = negative ? digits.slice(1) : digits;
  const grouped = bare.replace(/\B(?=(\d{3})+(?!\d))/g, "\u202f");
  return negative ? `\u2212${grouped}` : grouped;
}

/** "2 000.0000 VOIL": minor units as a decimal with `decimals` places, by string arithmetic on a BigInt. */
export function formatMinor(minor, decimals, code) {
  const value = BigInt(minor);
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(decimals + 1, "0");
  const whole = groupDigits(BigInt(digits.slice(0, digits.length - decimals)));
  const fraction = decimals > 0 ? `.${digits.slice(digits.length - decimals)}` : "";
  return `${negative ? "\u2212" : ""}${whole}${fraction}${code ? ` ${code}` : ""}`;
}

/** How many decimals an Amount's currency has, read off the API's own text ("2 000.0000 VOIL" -> 4). */
export function decimalsOf(amount) {
  const match = /\.(\d+)\b/.exec(amount?.text || "");
  return match ? match[1].length : 0;
}

/** basis points of part/whole as a Number (for drawing only), computed on BigInts: 0 when whole is 0. */
export function ratioBp(part, whole) {
  const p = BigInt(part);
  const w = BigInt(whole);
  if (w <= 0n) return 0;
  return Number((p * 10000n) / w);
}

/** "12.5%" from basis points; "< 0.01%" when `nonzero` says the part is above zero but below one basis point. */
export function percentText(bp, nonzero = bp > 0) {
  if (bp === 0 && nonzero) return "< 0.01%";
  return `${(bp / 100).toFixed(bp > 0 && bp < 100 ? 2 : 1)}%`;
}

/** The first and last characters of a long hex string, for display (the full value stays in a title). */
export function shortHex(hex, keep = 10) {
  const text = String(hex);
  return text.length <= keep + 2 ? text : `${text.slice(0, keep)}…`;
}

/** A wall-clock time from Unix nanoseconds (BigInt), to the millisecond. */
export function timeOfNs(ns) {
  const ms = Number(BigInt(ns) / 1000000n);
  return new Date(ms);
}

export function clock(date) {
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}

export function dateTime(date) {
  return `${date.toISOString().slice(0, 10)} ${clock(date)}`;
}

/** A small status pill: ok, warn, bad or neutral. */
export function pill(text, tone = "neutral") {
  return h("span", { class: `pill pill-${tone}` }, text);
}

/** The tone of a payment or leg state, for its pill. */
export function stateTone(state) {
  const text = String(state).toLowerCase();
  if (/(complete|settled|approved|accepted|acsc|acsp|block|committed)/.test(text)) return "ok";
  if (/(reject|fail|refus|reversed|rjct|error|timed)/.test(text)) return "bad";
  if (/(pend|progress|sent|wait|hold|queued|new|started)/.test(text)) return "warn";
  return "neutral";
}

/** A table with a header row; each row is a list of cells (text or elements) or {cells, attrs}. */
export function table(headers, rows, attrs = {}) {
  const head = h("thead", null, h("tr", null, headers.map((title) => h("th", { scope: "col" }, title))));
  const body = h(
    "tbody",
    null,
    rows.map((row) => {
      const cells = Array.isArray(row) ? row : row.cells;
      return h("tr", Array.isArray(row) ? null : row.attrs, cells.map((cell) => (cell instanceof Node && cell.tagName === "TD" ? cell : h("td", null, cell))));
    }),
  );
  return h("table", { class: "data", ...attrs }, head, body);
}

/** A cell aligned as a figure. */
export function num(text) {
  return h("td", { class: "num" }, text);
}

/** A paragraph saying there is nothing to show yet, and why. */
export function empty(text) {
  return h("p", { class: "empty" }, text);
}
