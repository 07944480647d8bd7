// Offline verification of a certhub compact QR (docs/compact-qr.md) in the
// browser: Base45, ZLIB (DecompressionStream), a small bounded CBOR decoder
// with the Go codec's limits, COSE_Sign1 with ES256/EdDSA by WebCrypto, the
// hub-signed trust list and IETF Token Status Lists (compact JWS). Nothing
// here makes a request: callers hand it the cached lists.
// Exposed as window.CertHubQR; the checks run in the Go codec's order so
// both name the same reason for the same input.
(function (root) {
  "use strict";

  var PREFIX = "CH1:";
  var MAX_TEXT = 8192;            // compactqr maxText
  var MAX_DECOMPRESSED = 65536;   // compactqr.MaxDecompressed
  var MAX_LIST = 16 << 20;        // a status list of 64 Mi two-bit entries
  var LIMITS = { depth: 8, array: 16, map: 128 };
  var KID_SIZE = 8;
  var CLAIM = { iss: 1, exp: 4, iat: 6, status: 65535, licence: -65537 };
  var ALG = { "-7": "ES256", "-8": "EdDSA" };
  var TAG_DAYS = 100; // RFC 8943: days since 1970-01-01

  // Licence map keys (docs/compact-qr.md). Key 5 (the authority's name) is
  // retired: the trust list names each key's authority. A new key is one
  // more line; a key this page does not know is ignored, as in Go.
  var LICENCE_KEYS = {
    1: "id", 2: "typeCode", 3: "typeName", 4: "issuerUSCC",
    6: "holder", 7: "validFrom", 8: "validUntil", 9: "fields"
  };
  var DATE_FIELDS = { validFrom: true, validUntil: true };
  var MIN_DAY = -719162, MAX_DAY = 2932896; // 0001-01-01 … 9999-12-31
  var CST = 8 * 3600; // licence dates are China Standard Time days

  function VerifyError(reason, detail) {
    this.name = "VerifyError";
    this.reason = reason;
    this.detail = detail || "";
    this.message = reason + (detail ? ": " + detail : "");
  }
  VerifyError.prototype = Object.create(Error.prototype);
  function fail(reason, detail) { throw new VerifyError(reason, detail); }

  // --- Base45 (RFC 9285) ---
  var B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
  var B45_VALUE = {};
  for (var i = 0; i < B45.length; i++) { B45_VALUE[B45.charAt(i)] = i; }

  function base45Decode(s) {
    if (s.length % 3 === 1) { fail("bad_base45", "length " + s.length + " is 1 mod 3"); }
    var out = new Uint8Array(Math.floor(s.length / 3) * 2 + (s.length % 3 === 2 ? 1 : 0));
    var o = 0;
    for (var p = 0; p < s.length; p += 3) {
      var n = 0, f = 1;
      var end = Math.min(p + 3, s.length);
      for (var q = p; q < end; q++) {
        var v = B45_VALUE[s.charAt(q)];
        if (v === undefined) { fail("bad_base45", "character " + JSON.stringify(s.charAt(q)) + " at " + q); }
        n += v * f; f *= 45;
      }
      if (end - p === 3) {
        if (n > 0xffff) { fail("bad_base45", "group at " + p + " out of range"); }
        out[o++] = n >> 8; out[o++] = n & 0xff;
      } else {
        if (n > 0xff) { fail("bad_base45", "group at " + p + " out of range"); }
        out[o++] = n;
      }
    }
    return out;
  }

  // --- ZLIB ---
  // inflate decompresses a ZLIB stream (RFC 1950), at most max bytes.
  async function inflate(bytes, max, bigReason) {
    var ds = new DecompressionStream("deflate");
    var writer = ds.writable.getWriter();
    writer.write(bytes).catch(function () {});
    writer.close().catch(function () {});
    var reader = ds.readable.getReader();
    var chunks = [], total = 0;
    try {
      for (;;) {
        var r = await reader.read();
        if (r.done) { break; }
        total += r.value.length;
        if (total > max) {
          reader.cancel().catch(function () {});
          fail(bigReason, "more than " + max + " bytes after decompression");
        }
        chunks.push(r.value);
      }
    } catch (e) {
      if (e instanceof VerifyError) { throw e; }
      fail("bad_zlib", String(e && e.message || e));
    }
    var out = new Uint8Array(total), off = 0;
    chunks.forEach(function (c) { out.set(c, off); off += c.length; });
    return out;
  }

  // --- CBOR (RFC 8949), bounded like the Go codec's decoder ---
  var utf8 = new TextDecoder("utf-8", { fatal: true });

  function Tagged(tag, value) { this.tag = tag; this.value = value; }

  // decodeCBOR decodes exactly one item filling all of b. Maps become Map
  // objects with number, string or Uint8Array keys; integers beyond 2^53
  // become BigInt; tags become Tagged.
  function decodeCBOR(b) {
    var pos = 0;
    function need(n) { if (pos + n > b.length) { fail("bad_cbor", "truncated"); } }
    function arg(ai) {
      if (ai < 24) { return ai; }
      var n;
      switch (ai) {
        case 24: need(1); n = b[pos]; pos += 1; return n;
        case 25: need(2); n = (b[pos] << 8) | b[pos + 1]; pos += 2; return n;
        case 26: need(4); n = ((b[pos] << 24) >>> 0) + (b[pos + 1] << 16) + (b[pos + 2] << 8) + b[pos + 3]; pos += 4; return n;
        case 27:
          need(8);
          var big = 0n;
          for (var k = 0; k < 8; k++) { big = (big << 8n) | BigInt(b[pos + k]); }
          pos += 8;
          return big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
        case 31: fail("bad_cbor", "indefinite length");
      }
      fail("bad_cbor", "reserved additional information " + ai);
    }
    function len(ai) {
      var n = arg(ai);
      if (typeof n === "bigint" || n > b.length) { fail("bad_cbor", "length past the data"); }
      return n;
    }
    function keyID(k) {
      if (typeof k === "number" || typeof k === "bigint") { return "i" + String(k); }
      if (typeof k === "string") { return "t" + k; }
      if (k instanceof Uint8Array) { return "b" + Array.prototype.join.call(k, ","); }
      return "x" + JSON.stringify(String(k));
    }
    function item(depth) {
      need(1);
      var ib = b[pos++], mt = ib >> 5, ai = ib & 31;
      var n, out, j;
      switch (mt) {
        case 0: return arg(ai);
        case 1:
          n = arg(ai);
          return typeof n === "bigint" ? -1n - n : (n < Number.MAX_SAFE_INTEGER ? -1 - n : -1n - BigInt(n));
        case 2: n = len(ai); need(n); out = b.slice(pos, pos + n); pos += n; return out;
        case 3:
          n = len(ai); need(n);
          try { out = utf8.decode(b.subarray(pos, pos + n)); } catch (e) { fail("bad_cbor", "invalid UTF-8"); }
          pos += n; return out;
        case 4:
          if (depth + 1 > LIMITS.depth) { fail("bad_cbor", "nested deeper than " + LIMITS.depth); }
          n = len(ai);
          if (n > LIMITS.array) { fail("bad_cbor", "array of " + n + " elements, limit " + LIMITS.array); }
          out = [];
          for (j = 0; j < n; j++) { out.push(item(depth + 1)); }
          return out;
        case 5:
          if (depth + 1 > LIMITS.depth) { fail("bad_cbor", "nested deeper than " + LIMITS.depth); }
          n = len(ai);
          if (n > LIMITS.map) { fail("bad_cbor", "map of " + n + " pairs, limit " + LIMITS.map); }
          out = new Map();
          var seen = {};
          for (j = 0; j < n; j++) {
            var k = item(depth + 1);
            var id = keyID(k);
            if (seen[id]) { fail("bad_cbor", "duplicate map key " + String(k)); }
            seen[id] = true;
            out.set(k, item(depth + 1));
          }
          return out;
        case 6:
          // A tag is no level of its own (as in the Go codec's decoder).
          n = arg(ai);
          return new Tagged(n, item(depth));
        case 7:
          switch (ai) {
            case 20: return false;
            case 21: return true;
            case 22: return null;
            case 23: return undefined;
            case 25: need(2); out = new DataView(b.buffer, b.byteOffset + pos, 2); pos += 2; return halfFloat(out.getUint16(0));
            case 26: need(4); out = new DataView(b.buffer, b.byteOffset + pos, 4); pos += 4; return out.getFloat32(0);
            case 27: need(8); out = new DataView(b.buffer, b.byteOffset + pos, 8); pos += 8; return out.getFloat64(0);
          }
          if (ai === 31) { fail("bad_cbor", "break outside an indefinite-length item"); }
          fail("bad_cbor", "simple value " + ai);
      }
    }
    var v = item(0);
    if (pos !== b.length) { fail("bad_cbor", (b.length - pos) + " bytes after the item"); }
    return v;
  }

  function halfFloat(h) {
    var e = (h >> 10) & 31, m = h & 1023, s = h >> 15 ? -1 : 1;
    if (e === 0) { return s * Math.pow(2, -14) * (m / 1024); }
    if (e === 31) { return m ? NaN : s * Infinity; }
    return s * Math.pow(2, e - 15) * (1 + m / 1024);
  }

  // sigStructure encodes ["Signature1", protected, h'', payload] (RFC 9052
  // section 4.4), the bytes COSE_Sign1 signs.
  function sigStructure(protectedBytes, payload) {
    var parts = [new Uint8Array([0x84, 0x6a]), new TextEncoder().encode("Signature1"),
      bstrHead(protectedBytes.length), protectedBytes, new Uint8Array([0x40]), bstrHead(payload.length), payload];
    var total = parts.reduce(function (n, p) { return n + p.length; }, 0);
    var out = new Uint8Array(total), off = 0;
    parts.forEach(function (p) { out.set(p, off); off += p.length; });
    return out;
  }
  function bstrHead(n) {
    if (n < 24) { return new Uint8Array([0x40 | n]); }
    if (n < 256) { return new Uint8Array([0x58, n]); }
    if (n < 65536) { return new Uint8Array([0x59, n >> 8, n & 255]); }
    return new Uint8Array([0x5a, (n >>> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255]);
  }

  // --- keys ---
  function b64urlDecode(s) {
    if (typeof s !== "string" || !/^[A-Za-z0-9_-]*$/.test(s)) { throw new Error("not base64url"); }
    var b = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4));
    var out = new Uint8Array(b.length);
    for (var k = 0; k < b.length; k++) { out[k] = b.charCodeAt(k); }
    return out;
  }
  function b64urlEncode(bytes) {
    var s = "";
    for (var k = 0; k < bytes.length; k++) { s += String.fromCharCode(bytes[k]); }
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function hex(bytes) { return Array.prototype.map.call(bytes, function (x) { return (x < 16 ? "0" : "") + x.toString(16); }).join(""); }

  // importJWK imports a P-256 or Ed25519 public JWK for verification and
  // computes its RFC 7638 thumbprint; other keys (SM2) give null.
  async function importJWK(jwk) {
    var members, algo, alg;
    if (jwk.kty === "EC" && jwk.crv === "P-256") {
      members = { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
      algo = { name: "ECDSA", namedCurve: "P-256" }; alg = "ES256";
    } else if (jwk.kty === "OKP" && jwk.crv === "Ed25519") {
      members = { crv: jwk.crv, kty: jwk.kty, x: jwk.x };
      algo = { name: "Ed25519" }; alg = "EdDSA";
    } else {
      return null;
    }
    var key = await crypto.subtle.importKey("jwk", Object.assign({ ext: true }, members), algo, false, ["verify"]);
    var thumb = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(JSON.stringify(members))));
    return { key: key, alg: alg, thumbprint: thumb };
  }

  function verifyRaw(alg, key, sig, data) {
    if (alg === "ES256") { return crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, sig, data); }
    return crypto.subtle.verify({ name: "Ed25519" }, key, sig, data);
  }

  // verifyJWS checks a compact JWS with the hub key (EdDSA or ES256, the
  // typ given) and returns its payload and header. hub is one imported key,
  // or the hub's published keys (while it rotates), of which the one the
  // header's kid names verifies.
  async function verifyJWS(token, hub, typ) {
    var parts = String(token).trim().split(".");
    if (parts.length !== 3) { throw new Error("not a compact JWS"); }
    var header = JSON.parse(new TextDecoder().decode(b64urlDecode(parts[0])));
    if (Array.isArray(hub)) {
      var named = hub.filter(function (h) { return h && b64urlEncode(h.thumbprint) === header.kid; });
      if (named.length !== 1) { throw new Error("kid " + header.kid + " is not a key of this hub"); }
      hub = named[0];
    }
    if (header.alg !== hub.alg) { throw new Error("alg " + header.alg + ", the hub key is " + hub.alg); }
    if (header.typ !== typ) { throw new Error("typ " + header.typ + ", want " + typ); }
    var ok = await verifyRaw(hub.alg, hub.key, b64urlDecode(parts[2]), new TextEncoder().encode(parts[0] + "." + parts[1]));
    if (!ok) { throw new Error("the signature does not verify with the hub key"); }
    return { header: header, payload: JSON.parse(new TextDecoder().decode(b64urlDecode(parts[1]))) };
  }

  // loadTrustList verifies the trust list (docs/trust-list.md) and indexes
  // its ES256/EdDSA keys by their 8-byte COSE kid.
  async function loadTrustList(token, hub) {
    var jws;
    try { jws = await verifyJWS(token, hub, "certhub-trust-list+jwt"); } catch (e) { fail("bad_trust_list", e.message); }
    var p = jws.payload;
    if (typeof p.iat !== "number" || typeof p.exp !== "number" || !Array.isArray(p.keys)) { fail("bad_trust_list", "iat, exp or keys missing"); }
    var byKid = new Map();
    for (var k = 0; k < p.keys.length; k++) {
      var e = p.keys[k];
      var imp = e.jwk ? await importJWK(e.jwk).catch(function () { return null; }) : null;
      if (!imp) { continue; }
      if (e.kid && e.kid !== b64urlEncode(imp.thumbprint)) { continue; } // the kid is the thumbprint, nothing else
      byKid.set(hex(imp.thumbprint.subarray(0, KID_SIZE)), Object.assign({ entry: e }, imp));
    }
    return { iss: p.iss, iat: p.iat, exp: p.exp, keys: byKid, count: p.keys.length };
  }

  // loadStatusList verifies an IETF Token Status List (typ statuslist+jwt)
  // and inflates its list.
  async function loadStatusList(token, hub) {
    var jws;
    try { jws = await verifyJWS(token, hub, "statuslist+jwt"); } catch (e) { fail("bad_status_list", e.message); }
    var p = jws.payload, sl = p.status_list;
    if (!sl || [1, 2, 4, 8].indexOf(sl.bits) < 0 || typeof sl.lst !== "string") { fail("bad_status_list", "status_list {bits, lst} missing or wrong"); }
    var bytes;
    try { bytes = await inflate(b64urlDecode(sl.lst), MAX_LIST, "bad_status_list"); } catch (e) { fail("bad_status_list", e.message); }
    return { sub: p.sub, iat: p.iat, exp: p.exp, ttl: p.ttl, bits: sl.bits, bytes: bytes };
  }

  // loadFederation verifies the federation trust list (typ
  // certhub-federation-trust-list+jwt, docs/federation.md) with this hub's
  // keys and, for each other hub in it, that hub's trust list with the keys
  // it lists for the hub. A hub whose trust list fails is left out (and
  // named in errors); the whole fails only when this hub's signature does.
  async function loadFederation(token, hub) {
    var jws;
    try { jws = await verifyJWS(token, hub, "certhub-federation-trust-list+jwt"); } catch (e) { fail("bad_trust_list", e.message); }
    var p = jws.payload;
    if (typeof p.iat !== "number" || typeof p.exp !== "number" || !Array.isArray(p.hubs)) { fail("bad_trust_list", "iat, exp or hubs missing"); }
    var out = { iat: p.iat, exp: p.exp, hubs: [], errors: [] };
    for (var i = 0; i < p.hubs.length; i++) {
      var h = p.hubs[i];
      try {
        var keys = await Promise.all((h.keys || []).map(function (k) { return importJWK(k.jwk).catch(function () { return null; }); }));
        var tl = await loadTrustList(h.trust_list, keys);
        out.hubs.push({ id: String(h.hub_id), name: String(h.name || ""), url: String(h.url || ""), keys: keys, trustList: tl, statusLists: {},
          catalogue: h.licence_types && typeof h.licence_types === "object" ? h.licence_types : null });
      } catch (e) { out.errors.push(String(h.hub_id) + ": " + (e.reason || e.message)); }
    }
    return out;
  }

  // statusAt reads entry idx: bits per entry, least-significant bit first.
  function statusAt(list, idx) {
    var per = 8 / list.bits;
    var byte = Math.floor(idx / per);
    if (!Number.isSafeInteger(idx) || idx < 0 || byte >= list.bytes.length) { return -1; }
    return (list.bytes[byte] >> ((idx % per) * list.bits)) & ((1 << list.bits) - 1);
  }

  // --- the compact QR ---
  function get(m, k) { return m instanceof Map ? m.get(k) : undefined; }
  function int(v) { return typeof v === "bigint" ? Number(v) : v; }

  // dayNumber reads an RFC 8943 day number (tag 100), or gives -Infinity.
  function dayNumber(v) {
    if (!(v instanceof Tagged) || int(v.tag) !== TAG_DAYS) { return -Infinity; }
    var n = int(v.value);
    return Number.isSafeInteger(n) && n >= MIN_DAY && n <= MAX_DAY ? n : -Infinity;
  }
  function dayString(n) { return new Date(n * 86400000).toISOString().slice(0, 10); }

  // fieldValue is a shared field's value as text: a string, a number, a
  // boolean or a tag-100 date; anything else is not this profile's.
  function fieldValue(v, k) {
    if (typeof v === "string") { return v; }
    if (typeof v === "number" || typeof v === "bigint") { return String(v); }
    if (typeof v === "boolean") { return v ? "✓" : "✗"; }
    var d = dayNumber(v);
    if (d !== -Infinity) { return dayString(d); }
    fail("bad_cbor", "field " + k + " is not a field value");
  }

  // parseLicence reads the licence map. Shared fields travel by number;
  // catalogue (GET /.well-known/certhub-licence-types, unsigned: it only
  // names them) gives each its name and labels within its type.
  function parseLicence(m, catalogue) {
    if (!(m instanceof Map)) { fail("bad_cbor", "no licence claim"); }
    var l = { fields: [] }, rawFields = null;
    m.forEach(function (v, k) {
      var name = LICENCE_KEYS[int(k)];
      if (!name) { return; }
      if (name === "fields") {
        if (!(v instanceof Map)) { fail("bad_cbor", "licence fields are not a map"); }
        rawFields = v;
      } else if (DATE_FIELDS[name]) {
        var d = dayNumber(v);
        if (d === -Infinity) { fail("bad_cbor", name + " is not an RFC 8943 day number (tag 100)"); }
        l[name] = dayString(d); l[name + "Day"] = d;
      } else {
        if (typeof v !== "string") { fail("bad_cbor", "licence " + name + " is not text"); }
        l[name] = v;
      }
    });
    var type = catalogue && catalogue.types && catalogue.types[l.typeCode];
    if (rawFields) {
      rawFields.forEach(function (fv, fk) {
        var n = int(fk);
        if (!Number.isSafeInteger(n) || n < 1) { fail("bad_cbor", "field number " + String(fk)); }
        var def = type && type.fields && type.fields[String(n)];
        l.fields.push({ number: n, name: def ? def.name : "", label: def && def.label ? def.label : null, value: fieldValue(fv, n) });
      });
      l.fields.sort(function (a, b) { return a.number - b.number; });
    }
    return l;
  }

  // decode checks a compact QR text up to and including its signature, in
  // the Go codec's order, and returns what it says. keyFor(kidHex) returns
  // {key, alg} or null. Expiry is left to the caller (it needs the clock).
  async function decode(text, keyFor, catalogue) {
    if (text.length > MAX_TEXT) { fail("too_large", text.length + " characters"); }
    if (text.slice(0, PREFIX.length) !== PREFIX) { fail("bad_prefix"); }
    var raw = await inflate(base45Decode(text.slice(PREFIX.length)), MAX_DECOMPRESSED, "too_large");
    var msg = decodeCBOR(raw);
    if (!(msg instanceof Tagged) || int(msg.tag) !== 18) { fail("bad_cbor", "not a tagged COSE_Sign1 (tag 18)"); }
    var s = msg.value;
    if (!Array.isArray(s) || s.length !== 4 || !(s[0] instanceof Uint8Array) || !(s[1] instanceof Map) ||
        !(s[2] instanceof Uint8Array) || !(s[3] instanceof Uint8Array)) {
      fail("bad_cbor", "COSE_Sign1 is not [protected, unprotected, payload, signature]");
    }
    var hdr = decodeCBOR(s[0]);
    if (!(hdr instanceof Map)) { fail("bad_cbor", "protected header is not a map"); }
    hdr.forEach(function (v, k) { if (typeof k !== "number" && typeof k !== "bigint") { fail("bad_cbor", "protected header key is not an integer"); } });
    var kid = hdr.get(4);
    if (!(kid instanceof Uint8Array) || kid.length === 0) { fail("bad_cbor", "no kid in the protected header"); }
    var alg = ALG[String(int(hdr.get(1)))];
    if (!alg) { fail("bad_algorithm", "alg " + String(hdr.get(1))); }
    var k = keyFor(hex(kid));
    if (!k) { fail("unknown_key", "kid " + hex(kid)); }
    if (k.alg !== alg) { fail("bad_algorithm", alg + " does not match the " + k.alg + " key of this kid"); }
    if (s[3].length !== 64) { fail("bad_signature", "signature of " + s[3].length + " bytes, want 64"); }
    if (!(await verifyRaw(alg, k.key, s[3], sigStructure(s[0], s[2])))) { fail("bad_signature"); }

    var c = decodeCBOR(s[2]);
    if (!(c instanceof Map)) { fail("bad_cbor", "claims are not a map"); }
    var out = { kid: hex(kid), alg: alg, key: k };
    var iss = c.get(CLAIM.iss), iat = c.has(CLAIM.iat) ? int(c.get(CLAIM.iat)) : 0, exp = c.get(CLAIM.exp);
    if (iss !== undefined && typeof iss !== "string") { fail("bad_cbor", "iss is not text"); }
    if (!Number.isSafeInteger(iat)) { fail("bad_cbor", "iat is not a number"); }
    if (exp !== undefined && !Number.isSafeInteger(int(exp))) { fail("bad_cbor", "exp is not a number"); }
    out.iss = iss; out.iat = iat; out.exp = exp === undefined ? undefined : int(exp);
    var st = c.get(CLAIM.status);
    if (st !== undefined) {
      var ref = get(st, "status_list");
      if (!(ref instanceof Map) || !Number.isSafeInteger(int(ref.get("idx"))) || typeof ref.get("uri") !== "string") {
        fail("bad_cbor", "status claim is not {status_list: {idx, uri}}");
      }
      out.status = { idx: int(ref.get("idx")), uri: ref.get("uri") };
    }
    out.rawLicence = c.get(CLAIM.licence);
    out.licence = parseLicence(out.rawLicence, catalogue);
    return out;
  }

  // verify is the whole offline check: the compact QR against the cached,
  // verified trust lists and status lists (by URL path), at now (seconds):
  // this hub's, and those of the other hubs of the federation
  // (lists.foreign), whichever states the code's key. It resolves to
  // {valid, reason, detail, result, hub}; it never throws.
  async function verify(text, lists, now, catalogue) {
    var res = { valid: false, reason: "", detail: "", result: null, hub: null };
    try {
      var sources = [];
      if (lists.trustList) { sources.push({ tl: lists.trustList, statusLists: lists.statusLists, hub: null }); }
      (lists.foreign || []).forEach(function (h) { sources.push({ tl: h.trustList, statusLists: h.statusLists, hub: h }); });
      if (!sources.length) { fail("bad_trust_list", "no trust list cached yet"); }
      var src = null;
      var r = await decode(String(text).trim(), function (kidHex) {
        var found = sources.filter(function (s) { return s.tl.keys.has(kidHex); });
        // A kid two hubs state is believed for neither.
        if (found.length !== 1) { return null; }
        src = found[0];
        return src.tl.keys.get(kidHex);
      }, catalogue);
      res.result = r;
      res.hub = src.hub ? { id: src.hub.id, name: src.hub.name } : null;
      // Another hub's licence: its fields are named by its catalogue.
      if (src.hub && src.hub.catalogue) { r.licence = parseLicence(r.rawLicence, src.hub.catalogue); }
      var tl = src.tl;
      if (r.exp !== undefined && now >= r.exp) { fail("expired", "expired at " + new Date(r.exp * 1000).toISOString()); }
      var e = r.key.entry;
      if (tl.iss && r.iss && tl.iss !== r.iss) { fail("issuer_mismatch", "issued by " + r.iss + ", the trust list is " + tl.iss + "'s"); }
      if (e.authority && r.licence.issuerUSCC && e.authority !== r.licence.issuerUSCC) { fail("issuer_mismatch", "the key is " + e.authority + "'s"); }
      if (e.valid_from !== undefined && r.iat < e.valid_from) { fail("key_not_yet_valid", "sealed before its key existed"); }
      if (e.valid_until !== undefined && r.iat > e.valid_until) { fail("key_retired", "sealed after its key was retired"); }
      if (e.state === "compromised" && (e.compromised_from === undefined || r.iat >= e.compromised_from)) { fail("key_compromised"); }
      if (r.licence.validFromDay !== undefined && now < r.licence.validFromDay * 86400 - CST) { fail("not_yet_valid", "valid from " + r.licence.validFrom); }
      if (now >= tl.exp) { fail("stale_lists", "the trust list expired at " + new Date(tl.exp * 1000).toISOString()); }
      if (!r.status) { res.warning = "no_status"; }
      if (r.status) {
        var path;
        try { path = new URL(r.status.uri).pathname; } catch (x) { fail("bad_cbor", "status uri"); }
        var sl = src.statusLists[path];
        if (!sl) { fail("status_unavailable", "no cached status list " + r.status.uri); }
        if (sl.sub && sl.sub !== r.status.uri) { fail("bad_status_list", "the list is " + sl.sub); }
        var slEnd = typeof sl.exp === "number" ? sl.exp : sl.iat + sl.ttl;
        if (now >= slEnd) { fail("stale_lists", "the status list expired at " + new Date(slEnd * 1000).toISOString()); }
        var v = statusAt(sl, r.status.idx);
        if (v < 0) { fail("bad_status_index", "index " + r.status.idx + " is outside the list"); }
        if (v === 1) { fail("revoked"); }
        if (v === 2) { fail("suspended"); }
        if (v !== 0) { fail("bad_status", "status value " + v); }
      }
      res.valid = true;
    } catch (err) {
      if (err instanceof VerifyError) {
        res.reason = err.reason; res.detail = err.detail;
      } else {
        res.reason = "error"; res.detail = String(err && err.message || err);
      }
    }
    return res;
  }

  // freshness says how the cached lists stand at now (seconds): "expired"
  // when one is past its exp (results are not to be trusted), "old" when
  // one is past its ttl (iat + ttl: it should have been refreshed), "ok".
  function freshness(lists, now) {
    var state = "ok", oldest = null;
    function see(iat, exp, ttl) {
      if (typeof iat === "number" && (oldest === null || iat < oldest)) { oldest = iat; }
      if (typeof exp === "number" && now >= exp) { state = "expired"; }
      else if (state === "ok" && typeof ttl === "number" && typeof iat === "number" && now >= iat + ttl) { state = "old"; }
    }
    if (!lists.trustList) { return { state: "missing", oldest: null }; }
    see(lists.trustList.iat, lists.trustList.exp, undefined);
    Object.keys(lists.statusLists).forEach(function (p) { var s = lists.statusLists[p]; see(s.iat, s.exp, s.ttl); });
    return { state: state, oldest: oldest };
  }

  root.CertHubQR = {
    verify: verify, decode: decode, freshness: freshness, loadTrustList: loadTrustList, loadStatusList: loadStatusList,
    importJWK: importJWK, loadFederation: loadFederation, base45Decode: base45Decode, decodeCBOR: decodeCBOR, statusAt: statusAt, VerifyError: VerifyError
  };
})(self);
