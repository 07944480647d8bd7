package sqlstore

// HolderAuditQuery is HolderAudit's query, for a test of its plan.
var HolderAuditQuery = holderAuditQuery

// FindCertificatesQuery is FindCertificates' query, for a test of its plan.
var FindCertificatesQuery = findCertificatesQuery
