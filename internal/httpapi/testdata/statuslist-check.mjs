// Checks certhub's status lists with independent implementations, as a
// verifier would: each document's own references lead to the lists on the
// live hub; jose checks the hub key's signature and typ;
// @digitalbazaar/vc-bitstring-status-list reads the W3C credential entries
// (checkStatus, the hub's JWS verified by jose in the document loader);
// @sd-jwt/jwt-status-list reads the IETF status claim and list. Run by
// TestStatusListsIndependent with the packages installed next to a copy of
// this file. Input (JSON on stdin): {jwks, kid, documents}. Output: one JSON
// object.
import * as jose from 'jose'
import { checkStatus, decodeList } from '@digitalbazaar/vc-bitstring-status-list'
import { getListFromStatusListJWT, getStatusListFromJWT } from '@sd-jwt/jwt-status-list'

const input = JSON.parse(await new Promise((ok) => {
  let s = ''
  process.stdin.on('data', (d) => { s += d })
  process.stdin.on('end', () => ok(s))
}))
const key = await jose.importJWK(input.jwks.keys.find((k) => k.kid === input.kid), 'EdDSA')
const err = (e) => `${e.code || e.name}: ${e.message}`

const fetched = {}
async function get (url, typ, mediaType) {
  const res = await fetch(url)
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status}`)
  if (res.headers.get('content-type') !== mediaType) throw new Error(`GET ${url}: content type ${res.headers.get('content-type')}`)
  const jwt = await res.text()
  const { payload, protectedHeader } = await jose.jwtVerify(jwt, key, { typ, algorithms: ['EdDSA'] })
  fetched[url] = jwt
  return { jwt, payload, protectedHeader }
}

const out = { documents: [] }
for (const doc of input.documents) {
  const r = {}
  try {
    const credential = jose.decodeJwt(doc)
    // IETF: the status claim names the list and index.
    const ref = getStatusListFromJWT(doc)
    r.idx = ref.idx
    const tsl = await get(ref.uri, 'statuslist+jwt', 'application/statuslist+jwt')
    if (tsl.payload.sub !== ref.uri) throw new Error(`sub ${tsl.payload.sub} is not ${ref.uri}`)
    r.ttl = tsl.payload.ttl
    r.expIn = tsl.payload.exp - tsl.payload.iat
    const list = getListFromStatusListJWT(tsl.jwt)
    r.tslLength = list.statusList.length
    r.tsl = list.getStatus(ref.idx)
    // W3C: both credentialStatus entries, through checkStatus. The hub
    // publishes lists for every authority, so the list's issuer (the hub)
    // is not the document's issuer.
    const res = await checkStatus({
      credential,
      documentLoader: async (url) => {
        const { payload } = await get(url, 'vc+jwt', 'application/vc+jwt')
        r.bslLength = (await decodeList({ encodedList: payload.credentialSubject.encodedList })).length
        return { document: payload }
      },
      verifyBitstringStatusListCredential: false,
      verifyMatchingIssuers: false
    })
    if (!res.verified) throw res.error || new Error(JSON.stringify(res))
    for (const x of res.results) {
      r[x.credentialStatus.statusPurpose] = x.status ? 1 : 0
      if (x.credentialStatus.statusListIndex !== String(ref.idx)) throw new Error('W3C and IETF indexes differ')
    }
  } catch (e) { r.error = err(e) }
  out.documents.push(r)
}
// A list whose payload was changed no longer verifies.
const [url, jwt] = Object.entries(fetched)[0]
const [h, p, s] = jwt.split('.')
const payload = JSON.parse(Buffer.from(p, 'base64url'))
payload.ttl = 1
try {
  await jose.jwtVerify([h, Buffer.from(JSON.stringify(payload)).toString('base64url'), s].join('.'), key)
  out.tampered = 'accepted'
} catch (e) { out.tampered = err(e) }
out.tamperedURL = url
process.stdout.write(JSON.stringify(out))
