// What the central banks see between them: FX rates (GET /v1/fx/rates), each central bank's net position and
// swap-line use against its counterpart (GET /v1/settlement/positions) and the settlement legs booked so far
// (GET /v1/settlement/cycles).

import { h, fill, pill, stateTone, table, num, empty, ratioBp, percentText } from "./dom.js";
import { meter } from "./charts.js";

export function renderRates(container, rates) {
  if (rates.length === 0) {
    fill(container, empty("No FX rate is configured."));
    return;
  }
  fill(
    container,
    h(
      "div",
      { class: "rates" },
      rates.map((rate) =>
        h(
          "div",
          { class: "rate" },
          h("span", { class: "rate-pair" }, `${rate.base} → ${rate.quote}`),
          h("span", { class: "rate-mid" }, `1 ${rate.base} = ${rate.mid} ${rate.quote}`),
          h("span", { class: "rate-spread" }, `mid rate · spread ${rate.spread_bp} bp`),
        ),
      ),
    ),
  );
}

/** Each position with a meter of swap-line use against the line: amber past half, red past 90%. */
export function renderPositions(container, positions) {
  if (positions.length === 0) {
    fill(container, empty("No central bank has a correspondent to hold a position against."));
    return;
  }
  fill(
    container,
    positions.map((p) => {
      const bp = ratioBp(p.swap_line_used.minor, p.swap_line.minor);
      const tone = bp >= 9000 ? "bad" : bp >= 5000 ? "warn" : "ok";
      const owed = p.net_position.minor < 0n;
      return h(
        "div",
        { class: "position", "data-central-bank": p.central_bank },
        h("div", { class: "position-head" }, h("strong", null, p.central_bank), h("span", { class: "muted" }, ` against ${p.counterpart}`)),
        h(
          "dl",
          { class: "figures" },
          h("div", null, h("dt", null, "net position"), h("dd", { class: owed ? "negative" : "" }, p.net_position.text)),
          h("div", null, h("dt", null, "swap line used"), h("dd", null, `${p.swap_line_used.text} (${percentText(bp, p.swap_line_used.minor > 0n)})`)),
          h("div", null, h("dt", null, "swap line"), h("dd", null, p.swap_line.text)),
        ),
        meter(bp, { tone, label: `${p.central_bank}: ${p.swap_line_used.text} of ${p.swap_line.text} used` }),
      );
    }),
  );
}

export function renderCycles(container, legs) {
  if (legs.length === 0) {
    fill(container, empty("No settlement cycle has run yet. A central bank settles one with POST /v1/settlement/cycles; the card scheme's days appear here too."));
    return;
  }
  const rows = [...legs].reverse().map((leg) => [leg.cycle, leg.central_bank, leg.kind, leg.counterpart, num(leg.position ? leg.position.text : "—"), pill(leg.state, stateTone(leg.state))]);
  fill(container, table(["cycle", "central bank", "kind", "counterpart", "position", "state"], rows));
}
