// Package verifyqr checks a compact signed QR (internal/compactqr) offline,
// against what a verifier cached from the hub: the hub's public key, the
// signed trust list (/.well-known/certhub-trust-list) and IETF Token Status
// Lists (/status/tsl/{n}). Nothing is asked of the hub at check time
// (issue 13, docs/verify-qr.md).
//
// Load verifies the cached files once (the trust list and every status list
// must be signed by the hub key); Verifier.Verify then checks a QR text in
// tens of microseconds: decoding and the seal signature (compactqr.Verify,
// with the key looked up by the first 8 bytes of its RFC 7638 thumbprint),
// the key's authority, validity and compromise as the trust list states
// them, the licence's validity, its entry in the status list its status
// reference names, and the freshness of both lists. The answer is a Report
// that says what was found and every reason it is not valid.
package verifyqr
