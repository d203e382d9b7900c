// Strict JSON (RFC 8259) that keeps every integer exact, as a BigInt.
//
// Why not JSON.parse: it reads every number as a double, so an integer above 2^53 comes back rounded. The API's
// integers are minor units, ledger counters and nanosecond times (a block header's time_ns is about 1.8e18): a
// rounded time_ns rebuilds the wrong header bytes and a correct block signature would look forged. Here an integer
// (no fraction, no exponent) is a BigInt; any other number is a Number, which the money and proof code refuse.

const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const SPACE = /[ \t\n\r]*/y;
const MAX_DEPTH = 64;

export class JsonError extends Error {}

export function parseJson(text) {
  const parser = new Parser(String(text));
  const value = parser.value(0);
  parser.space();
  if (parser.at !== parser.text.length) parser.fail("unexpected text after the document");
  return value;
}

class Parser {
  constructor(text) {
    this.text = text;
    this.at = 0;
  }

  fail(message) {
    throw new JsonError(`not JSON: ${message} at offset ${this.at}`);
  }

  space() {
    SPACE.lastIndex = this.at;
    SPACE.exec(this.text);
    this.at = SPACE.lastIndex;
  }

  match(pattern) {
    pattern.lastIndex = this.at;
    const found = pattern.exec(this.text);
    if (found === null) return null;
    this.at = pattern.lastIndex;
    return found;
  }

  value(depth) {
    if (depth > MAX_DEPTH) this.fail("nested too deep");
    this.space();
    const c = this.text[this.at];
    if (c === "{") return this.object(depth);
    if (c === "[") return this.array(depth);
    if (c === '"') return this.string();
    for (const [word, meaning] of [["true", true], ["false", false], ["null", null]]) {
      if (this.text.startsWith(word, this.at)) {
        this.at += word.length;
        return meaning;
      }
    }
    const number = this.match(NUMBER);
    if (number === null) this.fail("expected a value");
    return number[1] === undefined && number[2] === undefined ? BigInt(number[0]) : Number(number[0]);
  }

  string() {
    const found = this.match(STRING);
    if (found === null) this.fail("bad string");
    return JSON.parse(found[0]); // one string token: JSON.parse decodes its escapes exactly
  }

  object(depth) {
    this.at += 1;
    const out = {};
    this.space();
    if (this.text[this.at] === "}") {
      this.at += 1;
      return out;
    }
    for (;;) {
      this.space();
      if (this.text[this.at] !== '"') this.fail("expected a key");
      const key = this.string();
      this.space();
      if (this.text[this.at] !== ":") this.fail("expected ':'");
      this.at += 1;
      // defineProperty, not assignment: a key named "__proto__" stays a plain field
      Object.defineProperty(out, key, { value: this.value(depth + 1), enumerable: true, writable: true, configurable: true });
      this.space();
      const c = this.text[this.at];
      this.at += 1;
      if (c === "}") return out;
      if (c !== ",") this.fail("expected ',' or '}'");
    }
  }

  array(depth) {
    this.at += 1;
    const out = [];
    this.space();
    if (this.text[this.at] === "]") {
      this.at += 1;
      return out;
    }
    for (;;) {
      out.push(this.value(depth + 1));
      this.space();
      const c = this.text[this.at];
      this.at += 1;
      if (c === "]") return out;
      if (c !== ",") this.fail("expected ',' or ']'");
    }
  }
}
