package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/certhub/certhub/connectors"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
)

// maxPushRecords bounds one push-in request.
const maxPushRecords = 1000

func (s *Server) engine(w http.ResponseWriter, r *http.Request) *connectors.Engine {
	if s.Connectors == nil {
		s.fail(w, r, errs.E(errs.Unavailable, "connectors are not configured on this hub"))
	}
	return s.Connectors
}

func (s *Server) applyConnector(w http.ResponseWriter, r *http.Request) {
	e := s.engine(w, r)
	if e == nil {
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.fail(w, r, &errs.Error{Code: errs.TooLarge, Field: "body", Message: "definition is too large"})
			return
		}
		s.fail(w, r, errs.Field("body", "cannot be read"))
		return
	}
	d, created, err := e.Apply(r.Context(), raw)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	st := http.StatusOK
	if created {
		st = http.StatusCreated
	}
	s.Log.InfoContext(r.Context(), "connector applied", "connector", d.Name, "created", created)
	s.writeJSON(w, st, d)
}

type connectorView struct {
	*connectors.Definition
	Paused    bool   `json:"paused"`
	Cursor    string `json:"cursor"`
	Failures  int    `json:"failures"`
	Healthy   bool   `json:"healthy"`
	LastError string `json:"last_error,omitempty"`
}

func view(c *connectors.Connector) connectorView {
	return connectorView{Definition: c.Definition, Paused: c.Paused, Cursor: c.Cursor, Failures: c.Failures,
		Healthy: c.Failures < 3, LastError: c.LastError}
}

func (s *Server) listConnectors(w http.ResponseWriter, r *http.Request) {
	e := s.engine(w, r)
	if e == nil {
		return
	}
	names, err := e.Store.ListConnectors(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := []connectorView{}
	for _, n := range names {
		_, c, err := e.Get(r.Context(), n)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		out = append(out, view(c))
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"connectors": out})
}

func (s *Server) getConnector(w http.ResponseWriter, r *http.Request) {
	e := s.engine(w, r)
	if e == nil {
		return
	}
	_, c, err := e.Get(r.Context(), chi.URLParam(r, "name"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, view(c))
}

func (s *Server) runConnector(w http.ResponseWriter, r *http.Request) {
	e := s.engine(w, r)
	if e == nil {
		return
	}
	// A backfill can run longer than the server's write timeout (60 s in
	// certhub serve); the call answers when the run ends, so this answer
	// has no deadline (the run holds a lease; the client may give up).
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	run, err := e.Run(r.Context(), chi.URLParam(r, "name"), nil)
	if run == nil {
		s.fail(w, r, err)
		return
	}
	// A run that failed is still a run: its record says why.
	s.writeJSON(w, http.StatusOK, run)
}

func (s *Server) reconcileConnector(w http.ResponseWriter, r *http.Request) {
	e := s.engine(w, r)
	if e == nil {
		return
	}
	rep, err := e.Reconcile(r.Context(), chi.URLParam(r, "name"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, rep)
}

func pauseConnector(paused bool) func(*Server, http.ResponseWriter, *http.Request) {
	return func(s *Server, w http.ResponseWriter, r *http.Request) {
		e := s.engine(w, r)
		if e == nil {
			return
		}
		if err := e.Store.SetPaused(r.Context(), chi.URLParam(r, "name"), paused); err != nil {
			s.fail(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) connectorRuns(w http.ResponseWriter, r *http.Request) {
	e := s.engine(w, r)
	if e == nil {
		return
	}
	name := chi.URLParam(r, "name")
	if _, _, err := e.Get(r.Context(), name); err != nil {
		s.fail(w, r, err)
		return
	}
	runs, err := e.Store.ListRuns(r.Context(), name, 100)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"runs": nonNil(runs)})
}

func (s *Server) listQuarantine(w http.ResponseWriter, r *http.Request) {
	e := s.engine(w, r)
	if e == nil {
		return
	}
	list, err := e.Store.ListQuarantine(r.Context(), chi.URLParam(r, "name"), r.URL.Query().Get("all") == "true")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"quarantine": nonNil(list)})
}

func (s *Server) getQuarantined(w http.ResponseWriter, r *http.Request) {
	e := s.engine(w, r)
	if e == nil {
		return
	}
	q, fields, err := e.QuarantinedRecord(r.Context(), chi.URLParam(r, "id"))
	if err == nil && q.Connector != chi.URLParam(r, "name") {
		err = errs.E(errs.NotFound, "no such quarantined record")
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, struct {
		*connectors.Quarantined
		Record map[string]any `json:"record"`
	}{q, fields})
}

func (s *Server) retryQuarantine(w http.ResponseWriter, r *http.Request) {
	e := s.engine(w, r)
	if e == nil {
		return
	}
	var b struct {
		ID string `json:"id"`
	}
	if r.ContentLength != 0 {
		if err := s.decode(w, r, &b); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	ok, still, err := e.Retry(r.Context(), chi.URLParam(r, "name"), b.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]int{"accepted": ok, "still_quarantined": still})
}

// pushRecords is the push-in (一口进一口出): a department system sends its
// own records; an issuer may push only to a connector of its authority.
func (s *Server) pushRecords(w http.ResponseWriter, r *http.Request) {
	e := s.engine(w, r)
	if e == nil {
		return
	}
	name := chi.URLParam(r, "name")
	d, _, err := e.Get(r.Context(), name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if p := principalOf(r.Context()); p.Role == exchange.RoleIssuer && p.Authority != d.Authority {
		s.fail(w, r, errs.E(errs.Forbidden, "connector %s issues for authority %s; this token acts for %s", name, d.Authority, p.Authority))
		return
	}
	var b struct {
		Records []json.RawMessage `json:"records"`
	}
	if err := s.decode(w, r, &b); err != nil {
		s.fail(w, r, err)
		return
	}
	switch {
	case len(b.Records) == 0:
		s.fail(w, r, errs.Field("records", "must hold at least one record"))
		return
	case len(b.Records) > maxPushRecords:
		s.fail(w, r, errs.Field("records", "at most %d records a request, got %d", maxPushRecords, len(b.Records)))
		return
	}
	records := make([]connectors.Record, 0, len(b.Records))
	for i, raw := range b.Records {
		var fields map[string]any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&fields); err != nil || fields == nil {
			s.fail(w, r, errs.Field("records["+strconv.Itoa(i)+"]", "must be a JSON object"))
			return
		}
		records = append(records, connectors.Record{Fields: fields, Raw: raw})
	}
	run, err := e.Push(r.Context(), name, records)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, run)
}
