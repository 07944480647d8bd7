// Package compactqr is certhub's compact signed QR codec: the offline form of
// a licence, verifiable without asking the hub (docs/compact-qr.md).
//
// The text is Prefix + Base45(ZLIB(COSE_Sign1)), where the COSE_Sign1 is
// tagged (18), its protected header carries alg (ES256 −7 or EdDSA −8) and
// kid (the first 8 bytes of the seal key's RFC 7638 SHA-256 thumbprint), and
// its payload is a CWT whose claim LicenceClaim holds the licence as an
// integer-keyed CBOR map. Encoding is deterministic (CBOR core deterministic
// encoding); decoding is bounded (nesting, array and map sizes, duplicate
// keys, 64 KiB after decompression) because the text comes from anyone.
//
// Verify never panics; every failure is an *Error whose Reason is one of the
// documented codes, so the API, the CLI and the offline page can say the same
// thing.
package compactqr
