// Checks a certhub federation directory with jose 6, as a third party
// holding only the federation's root key file would: the root's own entry
// by the root key, then each entry by the active key (by the entry's kid)
// of the hub that signed it, which must be a hub already trusted and the
// entry's parent, and last the directory itself by the key of the hub it
// names as its iss. Run by TestDirectoryJose with jose installed next to a
// copy of this file. Input (JSON on stdin): {root, directory,
// tamperedEntry, tamperedDirectory, later}; root is the root key file
// {hub_id, kid, jwk}, later a time (seconds) after the directory's exp.
// Output: one JSON object of results, a refusal as its jose error code.
import * as jose from 'jose'

const input = JSON.parse(await new Promise((ok) => {
  let s = ''
  process.stdin.on('data', (d) => { s += d })
  process.stdin.on('end', () => ok(s))
}))

const ENTRY = 'certhub-hub-entry+jwt'
const DIRECTORY = 'certhub-directory+jwt'

class ChainError extends Error {
  constructor (code, message) { super(message); this.code = code }
}

// activeKey imports the key kid of a trusted hub, which must be active.
async function activeKey (hub, kid) {
  const k = (hub.keys || []).find((k) => k.kid === kid)
  if (!k) throw new ChainError('NO_SUCH_KEY', `hub ${hub.hub_id} has no key ${kid}`)
  if (k.state !== 'active') throw new ChainError('KEY_NOT_ACTIVE', `hub ${hub.hub_id}'s key ${kid} is ${k.state}`)
  return jose.importJWK(k.jwk, 'EdDSA')
}

async function verifyDirectory (token, root, currentDate) {
  const opts = (typ, issuer) => ({ typ, issuer, algorithms: ['EdDSA'], currentDate })
  // What each entry claims, unverified: only to find the key that will
  // verify it.
  const entries = jose.decodeJwt(token).entries.map((t) => ({ t, claims: jose.decodeJwt(t), kid: jose.decodeProtectedHeader(t).kid }))
  const trusted = new Map() // hub id -> verified entry payload
  const signers = {}

  // The root's entry, by the root key.
  const rootKey = await jose.importJWK(root.jwk, 'EdDSA')
  const own = entries.filter((e) => e.claims.iss === root.hub_id && e.claims.sub === root.hub_id)
  if (own.length === 0) throw new ChainError('NO_ROOT_ENTRY', `no entry of the root ${root.hub_id}`)
  for (const e of own) {
    if (e.kid !== root.kid) throw new ChainError('NOT_ROOT_KEY', `the root's entry is signed by key ${e.kid}, not ${root.kid}`)
    const { payload } = await jose.jwtVerify(e.t, rootKey, { ...opts(ENTRY, root.hub_id), subject: root.hub_id })
    if (payload.hub_id !== root.hub_id || payload.parent) throw new ChainError('BAD_ROOT_ENTRY', 'the root entry names another hub or a parent')
    if (!payload.keys.some((k) => k.kid === root.kid && k.state === 'active')) throw new ChainError('BAD_ROOT_ENTRY', 'the root entry does not list the root key as active')
    trusted.set(payload.hub_id, payload)
    signers[payload.hub_id] = payload.iss
    e.done = true
  }

  // Then every entry signed by a hub already trusted, until none is left.
  for (let progress = true; progress;) {
    progress = false
    for (const e of entries) {
      if (e.done || !trusted.has(e.claims.iss)) continue
      e.done = true
      progress = true
      const iss = e.claims.iss
      const key = await activeKey(trusted.get(iss), e.kid)
      const { payload } = await jose.jwtVerify(e.t, key, opts(ENTRY, iss))
      if (payload.sub !== payload.hub_id) throw new ChainError('BAD_ENTRY', `sub ${payload.sub} is not hub_id ${payload.hub_id}`)
      if (payload.parent !== iss) throw new ChainError('NOT_PARENT', `hub ${payload.hub_id}'s entry is signed by ${iss}, not its parent ${payload.parent}`)
      trusted.set(payload.hub_id, payload)
      signers[payload.hub_id] = iss
    }
  }
  const dropped = entries.filter((e) => !e.done).map((e) => e.claims.sub)

  // The directory itself, by the hub it names.
  const claims = jose.decodeJwt(token)
  if (claims.root !== root.hub_id) throw new ChainError('OTHER_ROOT', `the directory's root is ${claims.root}`)
  const hub = trusted.get(claims.iss)
  if (!hub) throw new ChainError('UNKNOWN_SIGNER', `no chain from the root vouches for ${claims.iss}`)
  const key = await activeKey(hub, jose.decodeProtectedHeader(token).kid)
  const { payload } = await jose.jwtVerify(token, key, opts(DIRECTORY, claims.iss))
  return { issuer: payload.iss, root: payload.root, hubs: [...trusted.keys()].sort(), signers, dropped }
}

const err = (e) => `${e.code || e.name}: ${e.message}`
const out = {}
const run = async (name, token, date) => {
  try {
    const v = await verifyDirectory(token, input.root, date)
    out[name] = name === 'ok' ? v : 'accepted'
  } catch (e) { out[name] = name === 'ok' ? { error: err(e) } : err(e) }
}
await run('ok', input.directory)
await run('tamperedEntry', input.tamperedEntry)
await run('tamperedDirectory', input.tamperedDirectory)
await run('expired', input.directory, new Date(input.later * 1000))
process.stdout.write(JSON.stringify(out))
