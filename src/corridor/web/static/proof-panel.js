// The proof checker: fetch a token transaction's inclusion proof
// (GET /v1/platforms/{platform}/transactions/{tx}/proof), or take one pasted, and show proof.js's verdict.
//
// A platform key the reader pins is kept in this browser's localStorage per platform (it is public, not a secret):
// a proof signed by any other key then fails, as `corridor verify-proof --key` would refuse it.

import { h, fill, pill, timeOfNs, dateTime } from "./dom.js";
import { verifyProof, supportsEd25519 } from "./proof.js";
import { ApiError } from "./api.js";

const PINS = "corridor.dashboard.pinned-keys";
const VERDICTS = {
  valid: ["Proof verified", "ok", "Every check passed, against the platform key you pinned."],
  unpinned: ["Proof holds", "ok", "Every check passed. The platform key is the one the proof names: pin the platform's key to know it is theirs."],
  incomplete: ["Hash checks passed", "warn", "The signatures could not be checked in this browser."],
  invalid: ["Proof refused", "bad", "At least one check failed: this proof does not show what it claims."],
};
const ICONS = { pass: "✓", fail: "✗", skip: "–" };

function pins() {
  try {
    return JSON.parse(localStorage.getItem(PINS) || "{}");
  } catch {
    return {};
  }
}

export class ProofPanel {
  /** `els`: {form, platform, tx, key, paste, pasteButton, result, support}; `api`: the Api. */
  constructor(els, api) {
    this.els = els;
    this.api = api;
    els.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.fetchAndVerify();
    });
    els.pasteButton.addEventListener("click", () => this.verifyPasted());
    els.platform.addEventListener("change", () => this.prefillKey());
    this.describeSupport();
  }

  async describeSupport() {
    if (!globalThis.crypto?.subtle) {
      fill(this.els.support, pill("no WebCrypto", "bad"), " This page is not a secure context: open it at http://127.0.0.1:<port>/ or over https to check proofs.");
      return;
    }
    const ed = await supportsEd25519();
    fill(
      this.els.support,
      ed ? pill("Ed25519 available", "ok") : pill("no Ed25519", "warn"),
      ed ? " WebCrypto checks SHA-256 hashes and Ed25519 signatures here." : " This browser's WebCrypto has no Ed25519: signature checks are skipped, the hash checks still run.",
    );
  }

  prefillKey() {
    const pinned = pins()[this.els.platform.value.trim().toUpperCase()];
    if (pinned && !this.els.key.value) this.els.key.value = pinned;
  }

  /** Fill the form from a token transaction of the feed and check its proof. */
  pick(item) {
    this.els.platform.value = item.where;
    this.els.tx.value = item.id;
    this.els.key.value = "";
    this.prefillKey();
    this.els.form.scrollIntoView({ behavior: "smooth", block: "center" });
    this.fetchAndVerify();
  }

  remember(platform, key) {
    const given = key.trim().toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(given)) return;
    const all = pins();
    all[platform] = given;
    localStorage.setItem(PINS, JSON.stringify(all));
  }

  async fetchAndVerify() {
    const platform = this.els.platform.value.trim().toUpperCase();
    const tx = this.els.tx.value.trim().toLowerCase();
    if (!/^[A-Z0-9]{1,16}$/.test(platform) || !/^[0-9a-f]{64}$/.test(tx)) {
      this.showError("Give a platform id (e.g. CBXRRUMM) and a transaction id of 64 hex digits.");
      return;
    }
    this.busy(`Fetching the proof of ${tx.slice(0, 16)}… on ${platform}`);
    let document;
    try {
      document = (await this.api.get(`/v1/platforms/${platform}/transactions/${tx}/proof`)).data;
    } catch (error) {
      this.showError(error instanceof ApiError ? error.message : String(error));
      return;
    }
    this.remember(platform, this.els.key.value);
    await this.verify(document, { trustedKey: this.els.key.value, txId: tx, source: `fetched from the API for ${platform}` });
  }

  async verifyPasted() {
    const text = this.els.paste.value.trim();
    if (!text) {
      this.showError("Paste a proof document (JSON) first.");
      return;
    }
    await this.verify(text, { trustedKey: this.els.key.value, txId: this.els.tx.value.trim(), source: "pasted" });
  }

  async verify(document, { trustedKey, txId, source }) {
    try {
      const result = await verifyProof(document, { trustedKey, txId });
      this.show(result, source);
    } catch (error) {
      this.showError(error.message);
    }
  }

  busy(text) {
    this.els.result.dataset.verdict = "busy";
    fill(this.els.result, h("p", { class: "muted" }, text));
  }

  showError(text) {
    this.els.result.dataset.verdict = "error";
    fill(this.els.result, h("p", { class: "card-error", role: "alert" }, text));
  }

  show(result, source) {
    const [title, tone, explanation] = VERDICTS[result.verdict];
    this.els.result.dataset.verdict = result.verdict;
    const f = result.facts;
    fill(
      this.els.result,
      h("div", { class: `verdict verdict-${tone}` }, h("strong", null, title), h("span", null, ` ${explanation} (proof ${source})`)),
      h(
        "ul",
        { class: "checks" },
        result.checks.map((c) =>
          h(
            "li",
            { class: `check check-${c.status}`, "data-check": c.id, "data-status": c.status },
            h("span", { class: "check-icon", "aria-hidden": "true" }, ICONS[c.status]),
            h("span", { class: "check-label" }, c.label),
            h("span", { class: "check-status" }, c.status === "pass" ? "passed" : c.status === "fail" ? `failed (${c.reason})` : "skipped"),
            h("span", { class: "check-detail" }, c.detail),
          ),
        ),
      ),
      f &&
        h(
          "dl",
          { class: "facts" },
          [
            ["block", `${f.platform} #${f.height}, sealed ${dateTime(timeOfNs(f.sealedAt))}`],
            ["block hash", f.blockHash],
            ["transaction", f.txId ? `${f.kind} ${f.txId}` : "does not decode"],
            ["place", f.index === null ? "—" : `leaf ${f.index} of ${f.txCount}`],
            ["leaf hash", f.leafHash],
            ["computed root", f.computedRoot || "—"],
            ["header tx_root", f.txRoot],
            ["platform key", f.platformKey],
          ].map(([name, value]) => h("div", null, h("dt", null, name), h("dd", null, h("code", null, value)))),
        ),
    );
  }
}
