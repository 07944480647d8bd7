// Reads {hubKey, list, tampered} on stdin: verifies the federation trust
// list with the serving hub's key alone (jose's jwtVerify, its typ and
// exp), then each hub's trust list inside it with the key of that hub it
// lists under the inner list's kid. Prints what it found, and the errors.
import * as jose from "jose";

const input = JSON.parse(await new Response(process.stdin).text());

async function read(token) {
  const hub = await jose.importJWK(input.hubKey, "EdDSA");
  const { payload } = await jose.jwtVerify(token, hub, { typ: "certhub-federation-trust-list+jwt" });
  const hubs = [];
  for (const h of payload.hubs) {
    const { kid } = jose.decodeProtectedHeader(h.trust_list);
    const k = h.keys.find((x) => x.kid === kid);
    if (!k) { throw new Error("hub " + h.hub_id + " lists no key " + kid); }
    const key = await jose.importJWK(k.jwk, "EdDSA");
    const inner = await jose.jwtVerify(h.trust_list, key, { typ: "certhub-trust-list+jwt" });
    hubs.push({ id: h.hub_id, iss: inner.payload.iss, keys: inner.payload.keys.length,
      types: Object.keys((h.licence_types || {}).types || {}) });
  }
  return { iss: payload.iss, hubs };
}

const out = {};
try { out.ok = await read(input.list); } catch (e) { out.ok = { error: String(e.code || e.message) }; }
try { await read(input.tampered); out.tampered = "accepted"; } catch (e) { out.tampered = String(e.code || e.message); }
process.stdout.write(JSON.stringify(out));
