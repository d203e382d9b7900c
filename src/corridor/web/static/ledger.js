// The ledger explorer: a node's named accounts (GET /v1/ledgers/{bic}/accounts) and, for the one picked, its
// transfers (GET /v1/ledgers/{bic}/accounts/{id}/transfers).
//
// The ledger keeps integers: minor units of the ledger's currency, and account ids of 128 bits (sent as strings).
// Both are shown exactly (BigInt, grouped digits); a balance here is credits minus debits posted.

import { h, fill, table, num, empty, groupDigits, shortHex, timeOfNs, dateTime } from "./dom.js";

export class LedgerExplorer {
  /** `els`: {select, accounts, transfers}; `api`: the Api; `onError(section, error)` reports a failed request. */
  constructor(els, api, onError) {
    this.els = els;
    this.api = api;
    this.onError = onError;
    this.bic = null;
    this.account = null;
    this.names = new Map();
    this.texts = { accounts: null, transfers: null };
    els.select.addEventListener("change", () => {
      this.bic = els.select.value;
      this.account = null;
      this.texts = { accounts: null, transfers: null };
      fill(els.transfers, empty("Pick an account to see its transfers."));
      this.refresh();
    });
  }

  /** Offer `network`'s nodes, central banks first; keep the current pick. */
  setNodes(network) {
    const order = { central_bank: 0, bank: 1, fx_provider: 2 };
    const nodes = [...network.nodes].sort((a, b) => (order[a.role] ?? 3) - (order[b.role] ?? 3));
    if (this.els.select.options.length === nodes.length) return;
    fill(this.els.select, nodes.map((n) => h("option", { value: n.bic }, `${n.bic} — ${n.name}`)));
    this.bic = this.bic || nodes[0]?.bic || null;
    if (this.bic) this.els.select.value = this.bic;
  }

  async refresh() {
    if (!this.bic) return;
    const bic = this.bic;
    try {
      const { data, text } = await this.api.get(`/v1/ledgers/${encodeURIComponent(bic)}/accounts`);
      this.onError("ledger", null);
      if (bic !== this.bic) return;
      this.names = new Map(data.map((a) => [a.id, a.name]));
      if (text !== this.texts.accounts) {
        this.texts.accounts = text;
        this.renderAccounts(data);
      }
      if (this.account) await this.refreshTransfers();
    } catch (error) {
      this.onError("ledger", error);
    }
  }

  renderAccounts(accounts) {
    if (accounts.length === 0) {
      fill(this.els.accounts, empty("This node's ledger has no named account."));
      return;
    }
    const rows = accounts.map((a) => ({
      attrs: { class: a.id === this.account ? "is-selected" : "", "data-account": a.id },
      cells: [
        h("td", null, h("button", { type: "button", class: "link-button", onclick: () => this.pick(a.id), "aria-pressed": String(a.id === this.account) }, a.name)),
        num(String(a.ledger)),
        num(groupDigits(a.debits_posted)),
        num(groupDigits(a.credits_posted)),
        num(a.debits_pending || a.credits_pending ? `${groupDigits(a.debits_pending)} / ${groupDigits(a.credits_pending)}` : "—"),
        num(groupDigits(BigInt(a.credits_posted) - BigInt(a.debits_posted))),
      ],
    }));
    fill(this.els.accounts, table(["account", "ledger", "debits posted", "credits posted", "pending d / c", "balance"], rows, { class: "data accounts" }));
  }

  pick(id) {
    this.account = id;
    this.texts.transfers = null;
    for (const row of this.els.accounts.querySelectorAll("tr[data-account]")) {
      const on = row.dataset.account === id;
      row.classList.toggle("is-selected", on);
      row.querySelector("button")?.setAttribute("aria-pressed", String(on));
    }
    fill(this.els.transfers, empty("Loading transfers…"));
    this.refreshTransfers();
  }

  async refreshTransfers() {
    const bic = this.bic;
    const id = this.account;
    try {
      const { data, text } = await this.api.get(`/v1/ledgers/${encodeURIComponent(bic)}/accounts/${encodeURIComponent(id)}/transfers`);
      this.onError("ledger", null);
      if (bic !== this.bic || id !== this.account || text === this.texts.transfers) return;
      this.texts.transfers = text;
      this.renderTransfers(data);
    } catch (error) {
      this.onError("ledger", error);
    }
  }

  renderTransfers(transfers) {
    const name = this.names.get(this.account) || this.account;
    if (transfers.length === 0) {
      fill(this.els.transfers, h("h3", null, name), empty("No transfer has touched this account yet."));
      return;
    }
    const other = (id) => h("span", { title: id }, this.names.get(id) || shortHex(id, 12));
    const rows = [...transfers].reverse().map((t) => {
      const debit = t.debit_account_id === this.account;
      return [
        dateTime(timeOfNs(t.timestamp)),
        h("span", { class: debit ? "debit" : "credit" }, debit ? "debit" : "credit"),
        other(debit ? t.credit_account_id : t.debit_account_id),
        num(`${debit ? "\u2212" : "+"}${groupDigits(t.amount)}`),
        num(String(t.code)),
        h("code", { title: t.id }, shortHex(t.id, 10)),
      ];
    });
    fill(this.els.transfers, h("h3", null, `${name}: ${transfers.length} transfer${transfers.length === 1 ? "" : "s"}, newest first`), table(["time", "side", "counterpart account", "amount (minor units)", "code", "transfer id"], rows));
  }
}
