// Checks certhub's trust list with jose 6, as docs/trust-list.md tells a
// verifier to: the hub key by its kid from /.well-known/jwks.json, typ
// required, exp checked. Run by TestTrustListJose with jose installed next
// to a copy of this file. Input (JSON on stdin): {jwks, kid, tl, tampered,
// later}; later is a time (seconds) after the list's exp. Output: one JSON
// object of results.
import * as jose from 'jose'

const input = JSON.parse(await new Promise((ok) => {
  let s = ''
  process.stdin.on('data', (d) => { s += d })
  process.stdin.on('end', () => ok(s))
}))
const jwk = input.jwks.keys.find((k) => k.kid === input.kid)
const key = await jose.importJWK(jwk, 'EdDSA')
const err = (e) => `${e.code || e.name}: ${e.message}`
const out = {}
try {
  const { payload, protectedHeader } = await jose.jwtVerify(input.tl, key, { typ: 'certhub-trust-list+jwt', algorithms: ['EdDSA'] })
  out.ok = { kid: protectedHeader.kid, keys: payload.keys.length, exp: payload.exp, iat: payload.iat }
} catch (e) { out.ok = { error: err(e) } }
try {
  await jose.jwtVerify(input.tampered, key, { typ: 'certhub-trust-list+jwt' })
  out.tampered = 'accepted'
} catch (e) { out.tampered = err(e) }
try {
  await jose.jwtVerify(input.tl, key, { typ: 'certhub-trust-list+jwt', currentDate: new Date(input.later * 1000) })
  out.expired = 'accepted'
} catch (e) { out.expired = err(e) }
try {
  await jose.jwtVerify(input.tl, key, { typ: 'at+jwt' })
  out.wrongTyp = 'accepted'
} catch (e) { out.wrongTyp = err(e) }
process.stdout.write(JSON.stringify(out))
