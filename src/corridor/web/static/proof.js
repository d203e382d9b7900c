// Inclusion proofs checked in the browser, from docs/digital.md ("Blocks", "Inclusion proofs") alone.
//
// This is the same check as `corridor verify-proof` (corridor/digital/blocks.py, verify_proof), written again from
// the specification with WebCrypto: SHA-256 for the leaf, the RFC 9162 path and the block hash, Ed25519 for the
// block header's and the transaction's signatures. Where the Python verifier stops at the first failure and names
// its reason code, this one runs every check it can and reports each, with the same reason codes, so a reader sees
// which part of a bad proof is wrong. Nothing here trusts the server: the proof is data, and the platform key is
// only trusted when the reader pins one they obtained elsewhere.

import { parseJson } from "./json.js";

const ascii = (text) => Uint8Array.from(text, (c) => c.charCodeAt(0));

export const BLOCK_MAGIC = ascii("CDBK");
export const BLOCK_VERSION = 1;
export const BLOCK_SIGNING_DOMAIN = ascii("corridor/block/v1\u0000");
export const TX_MAGIC = ascii("CDTX");
export const TX_VERSION = 1;
export const TX_SIGNING_DOMAIN = ascii("corridor/digital-tx/v1\u0000");
const PROOF_VERSION = 1n;
const MAX_BLOCK_TXS = 65536n;
const MAX_PATH = 64;
const MAX_PROOF_JSON = 256 * 1024;
const MAX_TX_BYTES = 1024 + 65536;
const U64_MAX = (1n << 64n) - 1n;
const MAX_AMOUNT = (1n << 63n) - 1n;
const MAX_TIER = 9;
const MAX_ALLOWED = 16;
const SIGNATURE_BYTES = 64;
const KEY_BYTES = 32;
const HASH_BYTES = 32;
const PLATFORM_ID = /^[A-Z0-9]{1,16}$/;
const TOKEN_CODE = /^[A-Z][A-Z0-9]{2,11}$/;
const LOWER_HEX = /^[0-9a-f]*$/;
const KINDS = { 1: "transfer", 2: "lock", 3: "claim", 4: "refund", 5: "swap", 6: "open", 7: "mint", 8: "burn" };
/** RFC 8032 section 7.1, test 1: a known-good public key to ask the browser whether it does Ed25519 at all. */
const RFC8032_KEY = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

export const CHECKS = [
  ["format", "Proof is well formed", "malformed"],
  ["key", "Platform key is the one you trust", "untrusted_key"],
  ["block-signature", "Block header is signed by the platform key (Ed25519)", "bad_block_signature"],
  ["tx", "Transaction decodes to exactly its signed bytes", "bad_tx"],
  ["tx-signature", "Transaction is signed by its signer (Ed25519)", "bad_tx_signature"],
  ["platform", "Transaction names the block's platform", "wrong_platform"],
  ["index", "Index is within the block", "index_out_of_range"],
  ["root", "Leaf hash and path lead to the header's tx_root (RFC 9162)", "root_mismatch"],
  ["tx-id", "Proof is for the transaction asked for", "other_transaction"],
];

class Malformed extends Error {}

export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function fromHex(text) {
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i += 1) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function equal(a, b) {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** Lowercase hex of `size` bytes (any size when null), as blocks.py's _hex_value demands; Malformed otherwise. */
function hexValue(value, name, size) {
  if (typeof value !== "string" || value.length % 2 !== 0 || !LOWER_HEX.test(value)) throw new Malformed(`${name} must be lowercase hex`);
  const raw = fromHex(value);
  if (size !== null && raw.length !== size) throw new Malformed(`${name} must be ${size} bytes`);
  return raw;
}

function intValue(value, name, low, high) {
  if (typeof value !== "bigint" || value < low || value > high) throw new Malformed(`${name} is out of range`);
  return value;
}

/** The proof's fields, typed and sized as blocks.py reads them (version, header, key, signature, tx, index, path). */
export function readProof(document) {
  let proof = document;
  if (typeof proof === "string") {
    if (proof.length > MAX_PROOF_JSON) throw new Malformed(`a proof is at most ${MAX_PROOF_JSON} bytes`);
    try {
      proof = parseJson(proof);
    } catch {
      throw new Malformed("not JSON");
    }
  }
  if (proof === null || typeof proof !== "object" || Array.isArray(proof)) throw new Malformed("a proof is a JSON object");
  if (proof.version !== PROOF_VERSION) throw new Malformed(`version must be ${PROOF_VERSION}`);
  const block = proof.block;
  if (block === null || typeof block !== "object" || Array.isArray(block)) throw new Malformed("block must be an object");
  if (typeof block.platform !== "string" || !PLATFORM_ID.test(block.platform)) throw new Malformed("block.platform is not a platform id");
  const header = {
    platform: block.platform,
    height: intValue(block.height, "block.height", 1n, U64_MAX),
    prevHash: hexValue(block.prev_hash, "block.prev_hash", 32),
    timeNs: intValue(block.time_ns, "block.time_ns", 0n, U64_MAX),
    txCount: intValue(block.tx_count, "block.tx_count", 1n, MAX_BLOCK_TXS),
    txRoot: hexValue(block.tx_root, "block.tx_root", 32),
  };
  const platformKey = hexValue(proof.platform_key, "platform_key", KEY_BYTES);
  const signature = hexValue(proof.block_signature, "block_signature", SIGNATURE_BYTES);
  const tx = hexValue(proof.tx, "tx", null);
  if (!Array.isArray(proof.path) || proof.path.length > MAX_PATH) throw new Malformed("path must be a list of at most 64 hashes");
  const path = proof.path.map((step) => hexValue(step, "path", 32));
  return { header, platformKey, signature, tx, index: proof.index, path };
}

/** The header's bytes: CDBK, version, str8 platform, u64 height, prev_hash, u64 time_ns, u32 tx_count, tx_root. */
export function encodeHeader(header) {
  const platform = ascii(header.platform);
  const out = new Uint8Array(6 + platform.length + 8 + 32 + 8 + 4 + 32);
  const view = new DataView(out.buffer);
  out.set(BLOCK_MAGIC, 0);
  out[4] = BLOCK_VERSION;
  out[5] = platform.length;
  out.set(platform, 6);
  let at = 6 + platform.length;
  view.setBigUint64(at, header.height);
  out.set(header.prevHash, (at += 8));
  view.setBigUint64((at += 32), header.timeNs);
  view.setUint32((at += 8), Number(header.txCount));
  out.set(header.txRoot, (at += 4));
  return out;
}

class TxFormatError extends Error {
  constructor(field, message) {
    super(`${field}: ${message}`);
  }
}

class Reader {
  constructor(data) {
    this.data = data;
    this.pos = 0;
  }

  take(n, field) {
    if (this.pos + n > this.data.length) throw new TxFormatError(field, `truncated: needs ${n} bytes at offset ${this.pos}`);
    const chunk = this.data.subarray(this.pos, this.pos + n);
    this.pos += n;
    return chunk;
  }

  u8(field) {
    return this.take(1, field)[0];
  }

  u64(field) {
    const bytes = this.take(8, field);
    return new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0);
  }

  str8(pattern, field) {
    const raw = this.take(this.u8(field), field);
    if (raw.some((b) => b > 0x7f)) throw new TxFormatError(field, "not ASCII");
    const text = String.fromCharCode(...raw);
    if (!pattern.test(text)) throw new TxFormatError(field, `'${text}' is not a valid ${field}`);
    return text;
  }

  amount(field = "amount") {
    const value = this.u64(field);
    if (value < 1n || value > MAX_AMOUNT) throw new TxFormatError(field, `must be 1 to ${MAX_AMOUNT} minor units`);
    return value;
  }
}

/** A transaction's parts from its bytes, as digital/tx.py's decode reads them (fields checked, nothing trailing). */
export function decodeTx(data) {
  if (data.length > MAX_TX_BYTES) throw new TxFormatError("transaction", `longer than ${MAX_TX_BYTES} bytes`);
  const r = new Reader(data);
  if (!equal(r.take(4, "magic"), TX_MAGIC)) throw new TxFormatError("magic", "not a Corridor digital transaction");
  if (r.u8("version") !== TX_VERSION) throw new TxFormatError("version", `only version ${TX_VERSION} is known`);
  const kindByte = r.u8("kind");
  const kind = KINDS[kindByte];
  if (kind === undefined) throw new TxFormatError("kind", `unknown kind ${kindByte}`);
  const platform = r.str8(PLATFORM_ID, "platform");
  const signer = r.take(KEY_BYTES, "signer");
  const nonce = r.u64("nonce");
  if (nonce < 1n || nonce > MAX_AMOUNT) throw new TxFormatError("nonce", `must be 1 to ${MAX_AMOUNT}`);
  const body = decodeBody(kind, r);
  const canonical = data.subarray(0, r.pos);
  const signatures = [r.take(SIGNATURE_BYTES, "signature")];
  if (kind === "swap") signatures.push(r.take(SIGNATURE_BYTES, "counter_signature"));
  let preimage = null;
  if (kind === "claim" && r.pos < data.length) {
    const size = r.take(2, "preimage");
    const length = (size[0] << 8) | size[1];
    preimage = r.take(length, "preimage");
  }
  if (r.pos !== data.length) throw new TxFormatError("transaction", `${data.length - r.pos} bytes after the end`);
  return { kind, platform, signer, nonce, body, canonical, signatures, preimage };
}

function decodeBody(kind, r) {
  if (kind === "transfer" || kind === "mint") {
    return { token: r.str8(TOKEN_CODE, "token"), to: r.take(KEY_BYTES, "to"), amount: r.amount(), reference: r.take(HASH_BYTES, "reference") };
  }
  if (kind === "lock") {
    const token = r.str8(TOKEN_CODE, "token");
    const to = r.take(KEY_BYTES, "to");
    const amount = r.amount();
    const hashlock = r.take(HASH_BYTES, "hashlock");
    const expiresAt = r.u64("expires_at");
    if (expiresAt < 1n || expiresAt > MAX_AMOUNT) throw new TxFormatError("expires_at", "out of range");
    return { token, to, amount, hashlock, expiresAt, reference: r.take(HASH_BYTES, "reference") };
  }
  if (kind === "claim" || kind === "refund") return { lock: r.take(HASH_BYTES, "lock") };
  if (kind === "swap") {
    const token = r.str8(TOKEN_CODE, "token");
    const amount = r.amount();
    const counterparty = r.take(KEY_BYTES, "counterparty");
    const counterToken = r.str8(TOKEN_CODE, "counter_token");
    const counterAmount = r.amount("counter_amount");
    const counterNonce = r.u64("counter_nonce");
    if (counterNonce < 1n || counterNonce > MAX_AMOUNT) throw new TxFormatError("counter_nonce", `must be 1 to ${MAX_AMOUNT}`);
    return { token, amount, counterparty, counterToken, counterAmount, counterNonce };
  }
  if (kind === "open") {
    const wallet = r.take(KEY_BYTES, "wallet");
    const tier = r.u8("tier");
    if (tier > MAX_TIER) throw new TxFormatError("tier", `must be 0 to ${MAX_TIER}`);
    const holderRef = r.take(HASH_BYTES, "holder_ref");
    const count = r.u8("allowed");
    if (count > MAX_ALLOWED) throw new TxFormatError("allowed", `at most ${MAX_ALLOWED} recipients`);
    const allowed = Array.from({ length: count }, () => r.take(KEY_BYTES, "allowed"));
    return { wallet, tier, holderRef, allowed };
  }
  return { token: r.str8(TOKEN_CODE, "token"), amount: r.amount(), reference: r.take(HASH_BYTES, "reference") }; // burn
}

async function sha256(subtle, ...parts) {
  return new Uint8Array(await subtle.digest("SHA-256", concat(...parts)));
}

/** RFC 9162 section 2.1.3.2, as corridor/merkle.py's root_from_path: the root `path` proves `leaf` to be under. */
export async function rootFromPath(subtle, leaf, index, size, path) {
  if (!(index >= 0 && index < size)) throw new Error(`leaf index ${index} is outside a tree of ${size} leaves`);
  if (path.length > MAX_PATH || path.some((step) => step.length !== HASH_BYTES)) throw new Error("an inclusion path is at most 64 hashes of 32 bytes");
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) throw new Error("the inclusion path is longer than the tree is deep");
    if (fn & 1 || fn === sn) {
      r = await sha256(subtle, Uint8Array.of(1), p, r);
      while (!(fn & 1) && fn !== 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = await sha256(subtle, Uint8Array.of(1), r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn !== 0) throw new Error("the inclusion path is shorter than the tree is deep");
  return r;
}

let ed25519Support = null;

/** Whether this browser's WebCrypto verifies Ed25519 (Chromium 137+, Firefox 129+, Safari 17+); asked once. */
export async function supportsEd25519(subtle = globalThis.crypto?.subtle) {
  if (!subtle) return false;
  if (ed25519Support === null) {
    ed25519Support = subtle
      .importKey("raw", fromHex(RFC8032_KEY), { name: "Ed25519" }, false, ["verify"])
      .then(() => true, () => false);
  }
  return ed25519Support;
}

async function ed25519Verify(subtle, key, signature, message) {
  try {
    const imported = await subtle.importKey("raw", key, { name: "Ed25519" }, false, ["verify"]);
    return await subtle.verify({ name: "Ed25519" }, imported, signature, message);
  } catch {
    return false; // a key that is no curve point verifies nothing
  }
}

/**
 * Check an inclusion proof (parsed with parseJson, or its text). Options: `trustedKey` (hex of the platform key
 * you trust; the key check is skipped without one) and `txId` (hex of the transaction you asked for).
 * Returns {verdict: "valid" | "unpinned" | "incomplete" | "invalid", checks: [{id, label, reason, status, detail}],
 * facts, ed25519}: each check "pass", "fail" or "skip".
 */
export async function verifyProof(document, { trustedKey = "", txId = "", subtle = globalThis.crypto?.subtle } = {}) {
  if (!subtle) throw new Error("WebCrypto is not available here: open the dashboard at http://127.0.0.1 (or over https)");
  const results = new Map(CHECKS.map(([id, label, reason]) => [id, { id, label, reason, status: "skip", detail: "" }]));
  const set = (id, ok, detail) => Object.assign(results.get(id), { status: ok ? "pass" : "fail", detail });
  const skip = (id, detail) => Object.assign(results.get(id), { status: "skip", detail });
  const ed25519 = await supportsEd25519(subtle);
  const noEd25519 = "skipped: this browser's WebCrypto has no Ed25519";

  let proof;
  try {
    proof = readProof(document);
  } catch (error) {
    if (!(error instanceof Malformed)) throw error;
    set("format", false, `malformed: ${error.message}`);
    for (const [id] of CHECKS.slice(1)) skip(id, "not checked: the proof is malformed");
    return { verdict: "invalid", checks: [...results.values()], facts: null, ed25519 };
  }
  const { header, platformKey, signature, tx: raw, index, path } = proof;
  set("format", true, `version 1; header of block ${header.height} on ${header.platform}; path of ${path.length} hash${path.length === 1 ? "" : "es"}`);

  const keyHex = toHex(platformKey);
  const pinned = String(trustedKey || "").trim().toLowerCase();
  if (!pinned) skip("key", `not pinned: the proof names key ${keyHex}; pin the platform's key, obtained from its operator, to check it`);
  else set("key", pinned === keyHex, pinned === keyHex ? `${keyHex} is the key you pinned` : `the proof's key ${keyHex} is not the key you pinned (${pinned})`);

  const headerBytes = encodeHeader(header);
  if (ed25519) {
    const ok = await ed25519Verify(subtle, platformKey, signature, concat(BLOCK_SIGNING_DOMAIN, headerBytes));
    set("block-signature", ok, ok ? "the signature over \"corridor/block/v1\\0\" ‖ header verifies" : "the block header's signature does not verify");
  } else skip("block-signature", noEd25519);

  let tx = null;
  try {
    tx = decodeTx(raw);
    if (tx.preimage !== null) {
      set("tx", false, "bad_tx: a leaf holds a transaction's signed bytes only (this one carries a claim's preimage)");
      tx = null;
    } else {
      set("tx", true, `${tx.kind}, ${raw.length} bytes: canonical ${tx.canonical.length} + ${tx.signatures.length} signature${tx.signatures.length > 1 ? "s" : ""}`);
    }
  } catch (error) {
    if (!(error instanceof TxFormatError)) throw error;
    set("tx", false, `bad_tx: ${error.message}`);
  }

  if (tx === null) {
    for (const id of ["tx-signature", "platform", "tx-id"]) skip(id, "not checked: the transaction does not decode");
  } else {
    if (ed25519) {
      const signers = tx.kind === "swap" ? [tx.signer, tx.body.counterparty] : [tx.signer];
      const message = concat(TX_SIGNING_DOMAIN, tx.canonical);
      let ok = signers.length === tx.signatures.length;
      for (let i = 0; ok && i < signers.length; i += 1) ok = await ed25519Verify(subtle, signers[i], tx.signatures[i], message);
      set("tx-signature", ok, ok ? `signed by ${toHex(tx.signer)}${signers.length > 1 ? " and its counterparty" : ""}` : "the transaction's signature does not verify");
    } else skip("tx-signature", noEd25519);
    set("platform", tx.platform === header.platform, tx.platform === header.platform ? `both say ${header.platform}` : `the transaction is for ${tx.platform}, the block is ${header.platform}'s`);
  }

  // as blocks.py: an index that is not an integer is index_out_of_range, not malformed
  const inBlock = typeof index === "bigint" && index >= 0n && index < header.txCount;
  set("index", inBlock, inBlock ? `${index} of ${header.txCount}` : `index must be 0 to ${header.txCount - 1n}`);

  const leaf = await sha256(subtle, Uint8Array.of(0), raw);
  let computed = null;
  if (typeof index !== "bigint") skip("root", "not checked: the index is not an integer");
  else {
    try {
      computed = await rootFromPath(subtle, leaf, Number(index), Number(header.txCount), path);
      const ok = equal(computed, header.txRoot);
      set("root", ok, ok ? `leaf ${toHex(leaf).slice(0, 16)}… → root ${toHex(computed).slice(0, 16)}… = tx_root` : `the path leads to ${toHex(computed)}, the header says ${toHex(header.txRoot)}`);
    } catch (error) {
      set("root", false, error.message);
    }
  }

  const id = tx === null ? null : toHex(await sha256(subtle, tx.canonical));
  const wanted = String(txId || "").trim().toLowerCase();
  if (tx !== null && wanted) set("tx-id", id === wanted, id === wanted ? `SHA-256 of the canonical bytes is ${id}` : `the proof is for ${id}, not ${wanted}`);
  else if (tx !== null) skip("tx-id", "no transaction id was asked for");

  const checks = [...results.values()];
  const failed = checks.some((c) => c.status === "fail");
  const skipped = checks.filter((c) => c.status === "skip").map((c) => c.id);
  const onlyKeySkipped = skipped.every((c) => c === "key" || c === "tx-id");
  let verdict = "valid";
  if (failed) verdict = "invalid";
  else if (!onlyKeySkipped) verdict = "incomplete";
  else if (skipped.includes("key")) verdict = "unpinned";
  const facts = {
    platform: header.platform,
    height: header.height,
    blockHash: toHex(await sha256(subtle, headerBytes)),
    sealedAt: header.timeNs,
    txCount: header.txCount,
    index: typeof index === "bigint" ? index : null,
    txId: id,
    kind: tx?.kind ?? null,
    signer: tx ? toHex(tx.signer) : null,
    leafHash: toHex(leaf),
    computedRoot: computed ? toHex(computed) : null,
    txRoot: toHex(header.txRoot),
    platformKey: keyHex,
  };
  return { verdict, checks, facts, ed25519 };
}
