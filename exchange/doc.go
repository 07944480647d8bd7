// Package exchange governs who may use the hub and how: API tokens bound to
// a role, the principal a request acts as, and the purpose and case every
// department access must name. Sharing agreements, the audit ledger and
// usage statistics build on these types.
package exchange
