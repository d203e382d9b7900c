// Tokens against what backs them (GET /v1/tokens) and the oil token's proof of reserves
// (GET /v1/tokens/VOIL/reserves): the figures a holder would want before accepting a digital currency.

import { h, fill, pill, table, empty, ratioBp, percentText, formatMinor, decimalsOf, shortHex, timeOfNs, dateTime } from "./dom.js";
import { meter } from "./charts.js";

const KINDS = { cbdc: "CBDC", stablecoin: "stablecoin", commodity: "commodity token" };

/** Per token: supply as a share of its backing (a full bar is supply = backing), covered or not. */
export function renderTokens(container, tokens) {
  if (tokens.length === 0) {
    fill(container, empty("This corridor issues no tokens."));
    return;
  }
  fill(
    container,
    tokens.map((t) => {
      const bp = t.backing ? ratioBp(t.supply.minor, t.backing.minor) : 10000;
      const tone = t.covered ? "ok" : "bad";
      const status = t.backing === null ? pill("no attestation", "bad") : t.covered ? pill("covered", "ok") : pill("not covered", "bad");
      return h(
        "div",
        { class: "token", "data-token": t.code },
        h("div", { class: "token-head" }, h("strong", { class: "token-code" }, t.code), h("span", { class: "muted" }, ` ${t.name} · ${KINDS[t.kind] || t.kind} on ${t.platform}`), status),
        meter(bp, { tone, marker: 10000, label: `${t.code}: supply ${t.supply.text}, backing ${t.backing ? t.backing.text : "none"}` }),
        h(
          "div",
          { class: "token-figures" },
          h("span", null, "supply ", h("b", null, t.supply.text)),
          h("span", null, "backing ", h("b", null, t.backing ? t.backing.text : "none attested")),
          h("span", { class: "muted" }, t.backing ? `${percentText(bp, t.supply.minor > 0n)} of backing issued · ${t.backing_kind}` : t.backing_kind),
        ),
      );
    }),
  );
}

/** The oil token's reserve report: holders, liabilities and reserves (in its own units), coverage, snapshot. */
export function renderReserves(container, report, tokens) {
  const token = tokens.find((t) => t.code === report.token);
  const decimals = token ? decimalsOf(token.supply) : 0;
  const units = (minor) => formatMinor(BigInt(minor), decimals, report.token);
  const snapshot = report.snapshot || {};
  const asOf = snapshot.as_of_ns !== undefined ? dateTime(timeOfNs(BigInt(snapshot.as_of_ns))) : "—";
  fill(
    container,
    h(
      "div",
      { class: "reserves", "data-token": report.token },
      h("div", { class: "token-head" }, h("strong", { class: "token-code" }, report.token), h("span", { class: "muted" }, " proof of reserves"), report.covered ? pill("covered", "ok") : pill("not covered", "bad")),
      h(
        "dl",
        { class: "figures figures-grid" },
        h("div", null, h("dt", null, "holders"), h("dd", null, String(report.holders))),
        h("div", null, h("dt", null, "liabilities"), h("dd", null, units(report.liabilities))),
        h("div", null, h("dt", null, "reserves"), h("dd", null, units(report.reserves))),
        h("div", null, h("dt", null, "coverage"), h("dd", null, `${report.coverage} ×`)),
      ),
      meter(ratioBp(report.liabilities, report.reserves), { tone: report.covered ? "ok" : "bad", marker: 10000, label: `liabilities ${units(report.liabilities)} against reserves ${units(report.reserves)}` }),
      table(
        ["attestation", "snapshot root", "leaves", "as of"],
        [[`#${report.attestation_serial}`, h("code", { title: snapshot.root_hash || "" }, shortHex(snapshot.root_hash || "—", 16)), String(snapshot.size ?? "—"), asOf]],
        { class: "data compact" },
      ),
    ),
  );
}
