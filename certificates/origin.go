package certificates

import "time"

// Origin says that a connector brought a certificate in: which connector,
// the source record's stable key, and the canonical hash of what the
// source said (content and status). The store records it in the same
// transaction as the certificate write it caused, so a connector run that
// is killed and restarted finds its earlier work and never issues twice.
type Origin struct {
	Connector    string
	SourceKey    string
	ContentHash  string // hash of the mapped content, status excluded
	SourceStatus string // the lifecycle status the source reported
}

// OriginRecord is what the store knows of a source record.
type OriginRecord struct {
	Origin
	Lineage       string
	CertificateID string // the current version
	UpdatedAt     time.Time
}
