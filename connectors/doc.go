// Package connectors brings certificates in from departments' own systems:
// a connector pulls records from a source (an HTTP API, a database, files
// dropped in a directory) or receives them pushed, maps each to a
// certificate of one type, and issues, revises or changes the lifecycle of
// certificates through the same certificates.Service as an API issuance.
//
// A connector is a declarative Definition. The Engine runs it: it reads a
// batch after the saved cursor, maps every record, and for each source key
// issues (new key), revises (changed content), applies a lifecycle action
// (changed source status) or does nothing (unchanged, by canonical hash).
// Every certificate write records its Origin in the same transaction, and
// the cursor moves only after the batch, so a run killed anywhere and
// restarted produces no duplicate and loses no record. A record that cannot
// be accepted goes to quarantine with its reason and never stops the batch.
//
// Source kinds live in adapters (internal/httpsource, internal/sqlsource,
// internal/filesource) and are registered by kind name in Kinds.
package connectors
