// Package certificates is certhub's registry domain: issuing authorities,
// certificate types (the catalog), holders, certificates and their versions,
// the GB/T 36904-style identifier, and the lifecycle (issue, revise, suspend,
// reinstate, revoke, expire).
//
// The package owns the contract: its types, their validation, and the
// interfaces it needs from storage (Store, DocumentStore) and from sealing
// (Sealer, HolderVault). It imports no database, HTTP or S3 package; adapters
// under internal/ implement the interfaces and cmd/certhub wires them.
package certificates
