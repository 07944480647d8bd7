// Package statuslist publishes certificate status without revealing which
// certificate a verifier checks (issue 13, docs/status-lists.md).
//
// Every certificate version gets a random, never reused index in a list of
// at least MinSize entries. One status is published three ways: the live API,
// a W3C Bitstring Status List credential per purpose (revocation, suspension)
// and an IETF Token Status List with two bits per entry.
package statuslist

import (
	"strconv"
	"strings"
)

// MinSize is the smallest list: the W3C Bitstring Status List minimum
// (16 KiB of bits), so one index hides among 131,072 (herd privacy).
const MinSize = 131072

// Status is a certificate version's status as the IETF Token Status List
// writes it (two bits per entry).
type Status uint8

// The status values of the IETF Token Status List.
const (
	Valid     Status = 0 // VALID
	Invalid   Status = 1 // INVALID: revoked, or superseded by a later version
	Suspended Status = 2 // SUSPENDED
)

// Purpose is a W3C Bitstring Status List statusPurpose.
type Purpose string

// The purposes certhub publishes, one bitstring each.
const (
	Revocation Purpose = "revocation"
	Suspension Purpose = "suspension"
)

// TSLPath is the path of list's IETF Token Status List.
func TSLPath(list int) string { return "/status/tsl/" + strconv.Itoa(list) }

// BSLPath is the path of list's W3C Bitstring Status List credential for
// purpose: one path segment, "<list>-<purpose>".
func BSLPath(list int, p Purpose) string {
	return "/status/bsl/" + strconv.Itoa(list) + "-" + string(p)
}

// TSLURL and BSLURL are the absolute URLs under the hub's public URL, as
// documents and compact QR codes carry them.
func TSLURL(public string, list int) string { return strings.TrimRight(public, "/") + TSLPath(list) }

// BSLURL is the absolute URL of a BSL credential.
func BSLURL(public string, list int, p Purpose) string {
	return strings.TrimRight(public, "/") + BSLPath(list, p)
}
