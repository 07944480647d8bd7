package web

import (
	"net/http"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
)

// agreementRow is one agreement as the administrators' page shows it.
type grantRow struct {
	Type, Name, Fields string
	Document           bool
}

type purposeRow struct{ Code, Name string }

type agreementRow struct {
	A         *exchange.Agreement
	Consumer  string
	Grants    []grantRow
	Purposes  []purposeRow
	Pending   bool
	Open      bool // may still be withdrawn
	Suspended bool // may be resumed
}

// agreementsPage lists every sharing agreement, those awaiting a decision
// first, with approve, reject, suspend, resume and withdraw buttons.
func (s *Server) agreementsPage(w http.ResponseWriter, r *http.Request) {
	if s.Registry == nil {
		s.fail(w, r, errs.E(errs.Unavailable, "no consumer registry"))
		return
	}
	as, err := s.Registry.Agreements(r.Context(), adminOf(r), "")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	consumers, err := s.Registry.Store.ListConsumers(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	names := map[string]string{}
	for _, c := range consumers {
		names[c.ID] = c.Name
	}
	ps, err := s.Registry.Store.ListPurposes(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	purposes := map[string]string{}
	for _, p := range ps {
		purposes[p.Code] = p.Name
	}
	rows := make([]agreementRow, 0, len(as))
	for _, a := range as {
		row := agreementRow{A: a, Consumer: names[a.Consumer], Pending: a.Status == exchange.AgreementRequested,
			Suspended: a.Status == exchange.AgreementSuspended,
			Open:      a.Status == exchange.AgreementRequested || a.Status == exchange.AgreementApproved || a.Status == exchange.AgreementSuspended}
		for _, g := range a.Grants {
			row.Grants = append(row.Grants, s.grantRow(r, g))
		}
		for _, code := range a.Purposes {
			row.Purposes = append(row.Purposes, purposeRow{Code: code, Name: purposes[code]})
		}
		rows = append(rows, row)
	}
	slices.SortStableFunc(rows, func(a, b agreementRow) int {
		switch {
		case a.Pending && !b.Pending:
			return -1
		case b.Pending && !a.Pending:
			return 1
		}
		return 0
	})
	s.render(w, r, http.StatusOK, "agreements", "agreements", rows)
}

// grantRow names a grant's type and fields by their labels.
func (s *Server) grantRow(r *http.Request, g exchange.Grant) grantRow {
	row := grantRow{Type: g.Type, Name: g.Type, Document: g.Document}
	t, err := s.Certs.Type(r.Context(), g.Type)
	if err != nil && s.Registry != nil && s.Registry.Copies != nil {
		// A type of the copies children pushed here, by its pushed
		// definition.
		if ft, ferr := s.Registry.Copies.FederatedType(r.Context(), g.Type); ferr == nil {
			t, err = &ft.Type, nil
		}
	}
	labels := map[string]string{exchange.FieldHolderName: T(langOf(r), "holder_name")}
	if err == nil {
		row.Name = t.Name
		for _, f := range t.Fields {
			labels[f.Name] = f.Label
		}
	}
	names := make([]string, 0, len(g.Fields))
	for _, f := range g.Fields {
		if l, ok := labels[f]; ok {
			f = l
		}
		names = append(names, f)
	}
	row.Fields = strings.Join(names, "、")
	return row
}

// decideAgreement applies an administrator's decision from the page.
func (s *Server) decideAgreement(w http.ResponseWriter, r *http.Request) {
	if s.Registry == nil {
		s.fail(w, r, errs.E(errs.Unavailable, "no consumer registry"))
		return
	}
	decision := chi.URLParam(r, "decision")
	if _, err := s.Registry.Decide(r.Context(), adminOf(r), chi.URLParam(r, "id"), decision, strings.TrimSpace(r.PostFormValue("reason"))); err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/admin/agreements#"+chi.URLParam(r, "id"), http.StatusSeeOther)
}

// adminOf is the signed-in administrator as the registry sees them.
func adminOf(r *http.Request) *exchange.Principal {
	sess := sessionOf(r)
	return &exchange.Principal{Role: exchange.RoleAdmin, TokenID: strings.TrimPrefix(sess.Actor, "admin:"), Name: sess.Name}
}
