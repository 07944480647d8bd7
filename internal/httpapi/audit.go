package httpapi

import (
	"context"
	"io"
	"net/http"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
)

// record appends an audit entry for this request before its answer goes
// out: if the ledger cannot take it, the request fails, so nothing is
// disclosed or changed without its record.
func (s *Server) record(r *http.Request, action string, e exchange.AuditEntry) error {
	if s.Ledger == nil {
		return nil
	}
	e.Action = action
	e.Actor, e.ActorName = "anonymous", ""
	if p := principalOf(r.Context()); p != nil {
		e.Actor, e.ActorName = p.Actor(), p.Name
		if p.Role == exchange.RoleHolder {
			e.Actor = "holder:" + s.Certs.Vault.Index(p.HolderKind, p.HolderID)[:16]
		}
	}
	if e.Purpose == "" {
		e.Purpose, e.CaseID = r.Header.Get("X-Purpose"), r.Header.Get("X-Case-Id")
	}
	if e.RequestID == "" {
		e.RequestID = federationRequestID(r.Context())
	}
	return s.Ledger.Record(r.Context(), e)
}

// follow records that a department relied on certificates for a case, for
// its subscriptions that follow lookups. It runs after the answer's record
// is in the ledger; a failure is logged, never refused to the caller.
func (s *Server) follow(r *http.Request, cs ...*certificates.Certificate) {
	p := principalOf(r.Context())
	if s.Webhooks == nil || p == nil || p.Role != exchange.RoleConsumer {
		return
	}
	if err := s.Webhooks.Follow(r.Context(), p.Consumer, r.Header.Get("X-Case-Id"), cs); err != nil {
		s.Log.ErrorContext(r.Context(), "record follow", "err", err)
	}
}

// about describes certificates for an audit entry: their ids, and their
// holder when there is one.
func about(cs ...*certificates.Certificate) exchange.AuditEntry {
	var e exchange.AuditEntry
	for i, c := range cs {
		e.Certificates = append(e.Certificates, c.ID)
		if i == 0 {
			e.Holder = c.HolderIndex
		} else if e.Holder != c.HolderIndex {
			e.Holder = ""
		}
	}
	return e
}

// fieldsOf names the data fields a certificate discloses.
func fieldsOf(c *certificates.Certificate) []string {
	out := make([]string, 0, len(c.Data))
	for k := range c.Data {
		out = append(out, k)
	}
	return out
}

func (s *Server) ledgerKey(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write([]byte(s.LedgerKey + "\n"))
}

// usageReport answers the usage statistics, as JSON or (format=csv) as a
// CSV that Excel opens with its Chinese intact.
func (s *Server) usageReport(w http.ResponseWriter, r *http.Request) {
	if s.Ledger == nil {
		s.fail(w, r, errs.E(errs.Unavailable, "the audit ledger is not configured"))
		return
	}
	periodReport(s, w, r, s.Ledger.Report, exchange.ReportCSVName, exchange.WriteReportCSV)
}

// periodReport answers a report over days grouped by period (defaults
// filled in by exchange.ReportRange): JSON, or with format=csv a download.
func periodReport[Row any](s *Server, w http.ResponseWriter, r *http.Request,
	report func(ctx context.Context, period, from, to string) ([]Row, error),
	csvName func(period, from, to string) string, writeCSV func(io.Writer, []Row) error) {
	q := r.URL.Query()
	period, from, to := exchange.ReportRange(q.Get("period"), q.Get("from"), q.Get("to"), s.Certs.Today().String())
	rows, err := report(r.Context(), period, from, to)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if q.Get("format") != "csv" {
		s.writeJSON(w, http.StatusOK, map[string]any{"period": period, "from": from, "to": to, "rows": nonNil(rows)})
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+csvName(period, from, to)+`"`)
	if err := writeCSV(w, rows); err != nil {
		s.Log.ErrorContext(r.Context(), "write report CSV", "err", err)
	}
}
