// Package federation links certhub hubs of different levels (county, city,
// province) into one library: each hub has an identity (its 行政区划 code),
// a parent admits a child by signing the child's directory entry, and every
// hub serves a signed, expiring directory of the hubs it knows. A hub
// trusts another only through a chain of signed entries from the root,
// whose key is configured out of band (docs/federation.md).
//
// Three kinds of statement, each a compact JWS (EdDSA) by a hub key, each
// with its own typ so none passes for another:
//
//   - a description (DescriptionType): a hub's own statement of itself,
//     signed by its own key. A parent admits a child from one (certhub
//     federation admit --child FILE) and reads the live one
//     (/.well-known/certhub-hub) to learn what the child holds now.
//   - an entry (EntryType): a parent's statement of a child (the root's of
//     itself), short-lived and re-signed every minute, so a hub the parent
//     stops vouching for drops out of every directory within EntryTTL.
//   - a directory (DirectoryType): the entries a hub knows, signed by that
//     hub, with iat and exp (DirectoryTTL).
package federation
