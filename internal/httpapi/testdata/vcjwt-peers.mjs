// Checks a certhub document with independent VC-JWT implementations:
// did-jwt-vc (with did-jwt) and jose. Run by TestVCJWTPeers with the
// packages installed next to a copy of this file. Input (JSON on stdin):
// {jwks, kid, doc, tampered, old}. Output: one JSON object of results.
import { verifyCredential } from 'did-jwt-vc'
import * as jose from 'jose'

const input = JSON.parse(await new Promise((ok) => {
  let s = ''
  process.stdin.on('data', (d) => { s += d })
  process.stdin.on('end', () => ok(s))
}))
const jwk = input.jwks.keys.find((k) => k.kid === input.kid)
const out = {}
const err = (e) => `${e.code || e.name}: ${e.message}`

// did-jwt wants the issuer to be a DID: it parses iss (or the issuer of
// its didAuthenticator option) with the DID syntax, and certhub's issuer
// urn:uscc:<USCC> is not one, so no resolver can be reached for it.
// did-jwt's own didAuthenticator option hands it a resolution result
// instead, under a custom DID method (did:uscc:<USCC>) whose document holds
// one verification method: the authority's JWK from the hub's JWKS. did-jwt
// then verifies the signature with it and checks nbf, iat and exp against
// the current time; it does not tie iss to that DID, so iss is compared
// with the issuer the verifier trusts here.
// did-jwt-vc 4 validates the VC 1.1 data model (the 2018 context) when its
// "format" policy is on; certhub's payload is VC 2.0, so that policy is off.
function authenticator() {
  const did = 'did:uscc:' + input.issuer.replace('urn:uscc:', '')
  const vm = { id: `${did}#${jwk.kid}`, type: 'JsonWebKey2020', controller: did, publicKeyJwk: jwk }
  return {
    issuer: did,
    authenticators: [vm],
    didResolutionResult: {
      didResolutionMetadata: {},
      didDocumentMetadata: {},
      didDocument: { id: did, verificationMethod: [vm], assertionMethod: [vm.id] },
    },
  }
}
const noResolver = { resolve: async () => { throw new Error('no resolution expected') } }
async function didjwtvc(doc) {
  try {
    const v = await verifyCredential(doc, noResolver, { policies: { format: false }, didAuthenticator: authenticator() })
    if (v.payload.iss !== input.issuer) return { ok: false, error: `iss ${v.payload.iss} is not ${input.issuer}` }
    return { ok: true, iss: v.payload.iss, jti: v.payload.jti, iat: v.payload.iat, nbf: v.payload.nbf, exp: v.payload.exp }
  } catch (e) {
    return { ok: false, error: err(e) }
  }
}
out.didjwtvc = await didjwtvc(input.doc)
out.didjwtvcTampered = await didjwtvc(input.tampered)
out.didjwtvcOld = await didjwtvc(input.old)

const key = await jose.importJWK(jwk, 'ES256')
async function josev(doc, o) {
  try {
    const { payload, protectedHeader } = await jose.jwtVerify(doc, key, { algorithms: ['ES256'], typ: 'vc+jwt', ...o })
    return { ok: true, iss: payload.iss, jti: payload.jti, iat: payload.iat, nbf: payload.nbf, exp: payload.exp, kid: protectedHeader.kid }
  } catch (e) {
    return { ok: false, error: err(e), claim: e.claim }
  }
}
const p = jose.decodeJwt(input.doc)
out.jose = await josev(input.doc, { issuer: input.issuer, requiredClaims: ['iss', 'jti', 'iat', 'nbf', 'exp'] })
out.joseWrongIssuer = await josev(input.doc, { issuer: 'urn:uscc:000000000000000000' })
out.joseBeforeNbf = await josev(input.doc, { currentDate: new Date((p.nbf - 1) * 1000) })
out.joseAtNbf = await josev(input.doc, { currentDate: new Date(p.nbf * 1000) })
out.joseLastSecond = await josev(input.doc, { currentDate: new Date((p.exp - 1) * 1000) })
out.joseAtExp = await josev(input.doc, { currentDate: new Date(p.exp * 1000) })
out.joseTampered = await josev(input.tampered, {})
out.joseOld = await josev(input.old, { requiredClaims: ['iss'] })
console.log(JSON.stringify(out))
