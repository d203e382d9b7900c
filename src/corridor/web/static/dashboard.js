// The dashboard's entry point: the key, the polling loop, the live indicator and the errors.
//
// Every ~2 s each section asks the API for its data; a section whose answer did not change is not drawn again, so
// a reader's selection, focus and scroll stay put. A failed request shows its problem+json detail in its own card;
// a key that is missing or refused (401/403) shows how to open the dashboard instead. The key is never displayed.

import { Api, ApiError, takeKey, storeKey, forgetKey } from "./api.js";
import { fill, clock } from "./dom.js";
import { renderMap, renderRails } from "./map.js";
import { Feed, renderHops } from "./feed.js";
import { renderRates, renderPositions, renderCycles } from "./settlement.js";
import { renderTokens, renderReserves } from "./tokens.js";
import { LedgerExplorer } from "./ledger.js";
import { ProofPanel } from "./proof-panel.js";

const POLL_MS = 2000;
const $ = (id) => document.getElementById(id);

class Dashboard {
  constructor(key) {
    this.api = new Api(key);
    this.texts = new Map();
    this.paused = false;
    this.stopped = false;
    this.timer = null;
    this.tokens = [];
    this.proofs = new ProofPanel(
      { form: $("proof-form"), platform: $("proof-platform"), tx: $("proof-tx"), key: $("proof-key"), paste: $("proof-paste"), pasteButton: $("proof-paste-verify"), result: $("proof-result"), support: $("proof-support") },
      this.api,
    );
    this.feed = new Feed(
      { list: $("feed"), filter: $("feed-filter"), chart: $("rail-chart"), legend: $("rail-legend"), spark: $("spark"), sparkText: $("spark-text") },
      { verify: (item) => this.proofs.pick(item), hops: (item) => this.showHops(item.id) },
    );
    this.ledger = new LedgerExplorer({ select: $("ledger-node"), accounts: $("ledger-accounts"), transfers: $("ledger-transfers") }, this.api, (section, error) => this.report(section, error));
    $("pause").addEventListener("click", () => this.togglePause());
  }

  start() {
    this.stopped = false;
    this.tick();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  async tick() {
    clearTimeout(this.timer);
    if (this.stopped) return;
    if (!this.paused) await this.refresh();
    if (!this.stopped) this.timer = setTimeout(() => this.tick(), POLL_MS);
  }

  togglePause() {
    this.paused = !this.paused;
    $("pause").textContent = this.paused ? "Resume" : "Pause";
    $("pause").setAttribute("aria-pressed", String(this.paused));
    setLive(this.paused ? "paused" : "live", this.paused ? "paused" : "live");
    if (!this.paused) this.tick();
  }

  /** GET `path` for `section`; calls `draw(data)` only when the answer's text changed since the last time. */
  async load(section, path, draw, { always = false } = {}) {
    try {
      const { data, text } = await this.api.get(path);
      this.report(section, null);
      if (always || this.texts.get(path) !== text) {
        this.texts.set(path, text);
        draw(data);
      }
      return data;
    } catch (error) {
      this.report(section, error);
      return null;
    }
  }

  async refresh() {
    this.failures = [];
    await Promise.all([
      this.load("network", "/v1/network", (network) => {
        fill($("scenario"), network.scenario);
        renderMap($("map"), network);
        renderRails($("rails"), network);
        this.ledger.setNodes(network);
        this.ledger.refresh();
      }),
      this.load("activity", "/v1/activity?limit=200", (items) => this.feed.update(items), { always: true }),
      this.load("fx", "/v1/fx/rates", (rates) => renderRates($("rates"), rates)),
      this.load("positions", "/v1/settlement/positions", (positions) => renderPositions($("positions"), positions)),
      this.load("cycles", "/v1/settlement/cycles", (legs) => renderCycles($("cycles"), legs)),
      this.loadTokens(),
      this.ledger.refresh(),
    ]);
    if (this.stopped) return;
    const offline = this.failures.length > 0 && this.failures.every((e) => e.status === 0);
    if (offline) setLive("offline", "API unreachable, retrying");
    else if (!this.paused) setLive("live", "live");
    fill($("updated"), `updated ${clock(new Date())}`);
  }

  async loadTokens() {
    const tokens = await this.load("tokens", "/v1/tokens", (found) => renderTokens($("tokens"), found));
    if (tokens === null) return;
    this.tokens = tokens;
    const commodities = tokens.filter((t) => t.kind === "commodity");
    if (commodities.length === 0) {
      fill($("reserves"), "This corridor has no commodity token to publish reserves for.");
      return;
    }
    const token = commodities[0].code;
    fill($("reserves-source"), `GET /v1/tokens/${token}/reserves`);
    await this.load("reserves", `/v1/tokens/${encodeURIComponent(token)}/reserves`, (report) => renderReserves($("reserves"), report, this.tokens));
  }

  async showHops(uetr) {
    const box = $("hops");
    box.hidden = false;
    fill(box, "Loading the payment's hops…");
    try {
      const { data } = await this.api.get(`/v1/payments/${encodeURIComponent(uetr)}`);
      renderHops(box, uetr, data);
    } catch (error) {
      fill(box, errorLine(error));
    }
  }

  /** Show (or clear, with null) a section's error; a refused key takes over the page. */
  report(section, error) {
    const box = document.querySelector(`[data-section="${section}"] .card-error`);
    if (error === null) {
      if (box) box.hidden = true;
      return;
    }
    this.failures?.push(error);
    if (error instanceof ApiError && error.refused) {
      showHowTo(error);
      this.stop(); // until a key is given again: the same request would be refused every 2 s
    }
    if (box) {
      box.hidden = false;
      fill(box, errorLine(error));
    }
  }
}

function errorLine(error) {
  if (error instanceof ApiError) return error.detail ? `${error.title}: ${error.detail}` : error.title;
  return String(error?.message || error);
}

function setLive(state, text) {
  $("live").dataset.state = state;
  fill($("live-text"), text);
}

/** The how-to: the key is missing or refused; say where the right one is and take one pasted (never shown). */
function showHowTo(error) {
  document.body.classList.add("locked");
  $("auth").hidden = false;
  $("grid").hidden = true;
  setLive("locked", "no access");
  fill($("auth-url"), `${window.location.origin}/#key=<observer key>`);
  fill($("auth-reason"), error ? `The API said: ${errorLine(error)}` : "No API key was given to this page.");
}

let dashboard = null;

function open(key) {
  document.body.classList.remove("locked");
  $("auth").hidden = true;
  $("grid").hidden = false;
  setLive("connecting", "connecting");
  if (dashboard === null) dashboard = new Dashboard(key);
  else dashboard.api.key = key;
  dashboard.start();
}

function main() {
  $("auth-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const given = $("auth-key").value.trim();
    $("auth-key").value = "";
    if (!given) return;
    storeKey(given);
    open(given);
  });
  $("forget").addEventListener("click", () => {
    forgetKey();
    dashboard?.stop();
    showHowTo(null);
  });
  const key = takeKey();
  if (key) open(key);
  else showHowTo(null);
}

main();
