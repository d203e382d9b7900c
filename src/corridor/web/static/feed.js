// Live payments by rail (GET /v1/activity): the feed, the counts per rail and state, and the recent throughput.
//
// The API lists each rail's items newest last but has no common clock across rails, so the feed orders items by
// when this page first saw them: a payment made while the page is open goes to the top at the next refresh, marked
// new. Items first seen together are interleaved, the newest of each rail first, so that one busy rail does not
// hide the others; the rail filter narrows the list to one. A token transaction's row offers its inclusion proof to
// the proof checker; a credit transfer's, its hops.

import { h, fill, pill, stateTone, shortHex, empty } from "./dom.js";
import { stackedBars, legend, sparkline } from "./charts.js";

export const RAILS = { credit_transfer: "Credit transfer", card: "Card", token: "Token" };
const FEED_ROWS = 20;
const SPARK_POINTS = 40;

/** A token's state is "block N": for counting, every committed transaction is one state. */
function countedState(item) {
  return item.rail === "token" ? "committed" : item.state;
}

export class Feed {
  /** `els`: {list, filter, chart, legend, spark, sparkText}; `actions`: {verify(item), hops(item)}. */
  constructor(els, actions) {
    this.els = els;
    this.actions = actions;
    this.firstSeen = new Map();
    this.polls = 0;
    this.history = [];
    this.lastTotal = null;
    this.rail = "all";
    this.items = [];
    this.shown = { list: null, chart: null };
    this.renderFilter();
  }

  update(items) {
    this.polls += 1;
    const rank = new Map();
    const newest = new Map();
    for (let i = items.length - 1; i >= 0; i -= 1) {
      const count = newest.get(items[i].rail) || 0;
      newest.set(items[i].rail, count + 1);
      rank.set(i, count);
    }
    this.items = items.map((item, i) => {
      const key = `${item.rail}:${item.where}:${item.id}`;
      if (!this.firstSeen.has(key)) this.firstSeen.set(key, { poll: this.polls, rank: rank.get(i), rail: Object.keys(RAILS).indexOf(item.rail) });
      return { item, key };
    });
    this.items.sort((a, b) => {
      const fa = this.firstSeen.get(a.key);
      const fb = this.firstSeen.get(b.key);
      return fb.poll - fa.poll || fa.rank - fb.rank || fa.rail - fb.rail;
    });
    this.renderList();
    this.renderChart(items);
    this.renderSpark(items.length);
  }

  renderFilter() {
    const choices = [["all", "All rails"], ...Object.entries(RAILS)];
    fill(
      this.els.filter,
      choices.map(([rail, label]) =>
        h("button", { type: "button", class: "chip", "data-rail": rail, "aria-pressed": String(rail === this.rail), onclick: () => this.show(rail) }, label),
      ),
    );
  }

  show(rail) {
    this.rail = rail;
    this.renderFilter();
    this.renderList();
  }

  /** Redraw the list only when the rows it shows changed: a focused button survives the refreshes. */
  renderList() {
    const rows = this.items.filter(({ item }) => this.rail === "all" || item.rail === this.rail).slice(0, FEED_ROWS);
    const signature = JSON.stringify([this.rail, rows.map(({ item, key }) => [key, item.state])]);
    if (signature === this.shown.list) return;
    this.shown.list = signature;
    if (rows.length === 0) {
      fill(this.els.list, empty("No activity yet: payments, card authorizations and token transactions appear here as they happen."));
      return;
    }
    const fresh = (key) => this.polls > 1 && this.firstSeen.get(key).poll === this.polls;
    fill(
      this.els.list,
      h(
        "ol",
        { class: "feed" },
        rows.map(({ item, key }) =>
          h(
            "li",
            { class: `feed-item${fresh(key) ? " is-new" : ""}`, "data-rail": item.rail, "data-id": item.id },
            h("span", { class: `rail rail-${item.rail}` }, RAILS[item.rail] || item.rail),
            h("span", { class: "feed-kind" }, item.kind),
            h("span", { class: "feed-where", title: `${item.source} → ${item.target}` }, item.where, h("small", null, `${shortHex(item.source, 8)} → ${shortHex(item.target, 8)}`)),
            h("span", { class: "feed-amount" }, item.amount ? item.amount.text : "—"),
            h("span", { class: "feed-state" }, pill(item.state, stateTone(item.state))),
            h("span", { class: "feed-action" }, this.action(item)),
          ),
        ),
      ),
    );
  }

  action(item) {
    if (item.rail === "token") {
      return h("button", { type: "button", class: "link-button", onclick: () => this.actions.verify(item), title: "Fetch this transaction's inclusion proof and check it in the browser" }, "Verify proof");
    }
    if (item.rail === "credit_transfer") {
      return h("button", { type: "button", class: "link-button", onclick: () => this.actions.hops(item), title: "The payment's path, node by node" }, "Hops");
    }
    return null;
  }

  renderChart(items) {
    const states = [];
    const rows = Object.keys(RAILS).map((rail) => {
      const counts = new Map();
      for (const item of items.filter((i) => i.rail === rail)) {
        const state = countedState(item);
        counts.set(state, (counts.get(state) || 0) + 1);
        if (!states.includes(state)) states.push(state);
      }
      return { label: RAILS[rail], parts: [...counts].map(([key, value]) => ({ key, value })) };
    });
    const signature = JSON.stringify(rows);
    if (signature === this.shown.chart) return;
    this.shown.chart = signature;
    const palette = (state) => `seg-${stateTone(state)}`;
    fill(this.els.chart, stackedBars(rows, { palette }));
    fill(this.els.legend, legend(states, palette));
  }

  renderSpark(total) {
    const added = this.lastTotal === null ? 0 : Math.max(0, total - this.lastTotal);
    this.lastTotal = total;
    this.history.push(added);
    if (this.history.length > SPARK_POINTS) this.history.shift();
    const sum = this.history.reduce((a, b) => a + b, 0);
    fill(this.els.spark, sparkline(this.history, { label: `new items per refresh, last ${this.history.length} refreshes: ${this.history.join(", ")}` }));
    const span = this.history.length === 1 ? "refresh" : `${this.history.length} refreshes`;
    fill(this.els.sparkText, `${sum} new item${sum === 1 ? "" : "s"} in the last ${span}`);
  }
}

/** A credit transfer's hops (GET /v1/payments/{uetr}) as a small timeline. */
export function renderHops(container, uetr, payment) {
  const hops = payment.hops.map((hop) =>
    h(
      "li",
      null,
      h("time", { class: "hop-at", datetime: hop.at }, hop.at.replace("T", " ").replace(/\.\d+/, "")),
      h("span", { class: "hop-node" }, hop.node),
      pill(hop.status, stateTone(hop.status)),
      h("span", { class: "hop-detail" }, [hop.reason_text || hop.reason || "", hop.detail].filter(Boolean).join(" · ")),
    ),
  );
  fill(
    container,
    h("h3", null, "Payment ", h("code", null, uetr), " ", pill(payment.state || "unknown", stateTone(payment.state || ""))),
    hops.length ? h("ol", { class: "hops" }, hops) : empty("No hop recorded yet."),
  );
}
