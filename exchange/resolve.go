package exchange

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/errs"
)

// Resolver answers, for a service item and an applicant, which required
// materials e-certificates already satisfy (once-only: 一次不跑 / 最多跑一次),
// and counts every material avoided.
type Resolver struct {
	Store    ItemStore
	Registry *Registry
	Certs    *certificates.Service
	Ledger   *Ledger
	Now      func() time.Time
	// Remote finds certificates of types other hubs hold (nil: in no
	// federation).
	Remote Remote
	// Copies are the copies of other hubs' certificates kept here (nil:
	// none): a material of their type is answered from them, under this
	// hub's agreements, without asking their home hub.
	Copies Copies

	items ttlCache[string, *ServiceItem]
}

// itemTTL bounds how long another replica's import takes to show.
const itemTTL = 10 * time.Second

// Import validates a catalog and stores it whole, or nothing.
func (r *Resolver) Import(ctx context.Context, by *Principal, items []*ServiceItem) error {
	if err := ValidateItems(ctx, r.Certs, r.Remote, r.Copies, items); err != nil {
		return err
	}
	return r.put(ctx, by, items)
}

// put stores a validated catalog and records the import.
func (r *Resolver) put(ctx context.Context, by *Principal, items []*ServiceItem) error {
	now := r.Now().UTC().Truncate(time.Microsecond)
	for _, it := range items {
		it.CreatedAt, it.UpdatedAt = now, now
	}
	if err := r.Store.PutItems(ctx, items); err != nil {
		return err
	}
	r.items.forgetAll()
	codes := make([]string, 0, len(items))
	for _, it := range items {
		codes = append(codes, it.Code)
	}
	return r.Ledger.Record(ctx, AuditEntry{Actor: by.Actor(), ActorName: by.Name, Action: "items_import",
		Outcome: fmt.Sprintf("ok: %d items: %s", len(items), strings.Join(codes, ", "))})
}

// ImportFile reads a catalog file (by its name's extension) and imports
// it; problems of the file's cells and of the catalog are listed together,
// one per cell (a cell the reader refused, say for its encoding, is not
// judged again for its meaning), and nothing is saved if there is any.
func (r *Resolver) ImportFile(ctx context.Context, by *Principal, name string, data []byte) ([]*ServiceItem, error) {
	items, perr := ParseItems(name, data)
	if perr != nil && items == nil {
		return nil, perr
	}
	verr := ValidateItems(ctx, r.Certs, r.Remote, r.Copies, items)
	var l errs.List
	refused := map[string]bool{} // cells the reader refused
	for k, err := range []error{perr, verr} {
		var e *errs.Error
		if err == nil {
			continue
		}
		if !errors.As(err, &e) || e.Code != errs.Invalid {
			return nil, err
		}
		for _, f := range e.Fields {
			cell, _, _ := strings.Cut(f.Field, "[")
			if k == 0 {
				refused[cell] = true
			} else if refused[cell] {
				continue
			}
			l.Add(f.Field, "%s", f.Reason)
		}
	}
	if err := l.Err(); err != nil {
		return nil, err
	}
	return items, r.put(ctx, by, items)
}

// Item returns an item, cached for a few seconds.
func (r *Resolver) Item(ctx context.Context, code string) (*ServiceItem, error) {
	return r.items.get(code, r.Now(), itemTTL, func() (*ServiceItem, error) {
		it, err := r.Store.Item(ctx, code)
		if errs.Is(err, errs.NotFound) {
			return nil, errs.E(errs.NotFound, "no service item %s", code)
		}
		return it, err
	})
}

// ResolveRequest is the input of a resolve.
type ResolveRequest struct {
	Applicant struct {
		Kind string `json:"kind"`
		ID   string `json:"id"`
	} `json:"applicant"`
	CaseID  string `json:"case_id"`
	Purpose string `json:"purpose"`
}

// Material outcomes.
const (
	OutcomeSatisfied    = "satisfied"
	OutcomeNotFound     = "not_found"
	OutcomeNotPermitted = "not_permitted"
	// OutcomeProvide: not a government-issued certificate, so the
	// applicant provides it.
	OutcomeProvide = "provide"
	// OutcomeUnavailable: the hub that holds the type could not be asked
	// (or could not answer); the reason says which side failed.
	OutcomeUnavailable = "unavailable"
	// A certificate found but not acceptable answers its status:
	// expired, revoked or suspended.
)

// MaterialAnswer is what a resolve says of one material.
type MaterialAnswer struct {
	Name             string    `json:"name"`
	Outcome          string    `json:"outcome"`
	Reason           string    `json:"reason,omitempty"`
	OriginalRequired bool      `json:"original_required,omitempty"`
	LegalBasis       string    `json:"legal_basis,omitempty"`
	Certificate      *UsedCert `json:"certificate,omitempty"`
	Agreement        string    `json:"agreement,omitempty"`
	Avoided          bool      `json:"avoided"`
	Flags            []string  `json:"flags,omitempty"`
	// Hub is the hub of the federation the certificate was found in, when
	// it is another one (its agreement is then that hub's).
	Hub    *MaterialHub   `json:"hub,omitempty"`
	fields map[string]any // unexported: copied into Certificate
}

// UsedCert is the certificate a material answer relies on.
type UsedCert struct {
	ID      string         `json:"id"`
	Type    string         `json:"type"`
	Version int            `json:"version"`
	Status  string         `json:"status"`
	Fields  map[string]any `json:"fields,omitempty"`
}

// ResolveAnswer is the whole answer.
type ResolveAnswer struct {
	Item       string           `json:"item"`
	ItemName   string           `json:"item_name"`
	Department string           `json:"department"`
	CaseID     string           `json:"case_id"`
	Materials  []MaterialAnswer `json:"materials"`
	Required   int              `json:"required"`
	Avoided    int              `json:"avoided"`
	// AvoidableWithAgreement counts the materials an agreement would have
	// spared: answered not_permitted, and not needed as an original.
	AvoidableWithAgreement int `json:"avoidable_with_agreement"`
	// ToBring names the materials the applicant must still bring.
	ToBring []string `json:"to_bring"`
}

// Resolve answers for a consumer (its agreements decide what it may see)
// or, with consumer nil, for the applicant themselves (a holder asking
// what they will need to bring: every type is looked at, nothing is
// counted).
func (r *Resolver) Resolve(ctx context.Context, by *Principal, code string, req *ResolveRequest) (*ResolveAnswer, error) {
	it, err := r.Item(ctx, code)
	if err != nil {
		return nil, err
	}
	var l errs.List
	kind := certificates.HolderKind(req.Applicant.Kind)
	if kind == "" {
		kind = certificates.HolderKindOf(req.Applicant.ID)
	}
	switch {
	case req.Applicant.ID == "":
		l.Add("applicant.id", "is required")
	case kind != certificates.Person && kind != certificates.Organisation:
		l.Add("applicant.kind", "must be person or organisation")
	default:
		if err := certificates.ValidateHolderID(kind, req.Applicant.ID); err != nil {
			l.Add("applicant.id", "%v", err)
		}
	}
	consumer := by.Role == RoleConsumer
	if consumer {
		if err := (Access{Purpose: req.Purpose, CaseID: req.CaseID}).Validate(); err != nil {
			for _, f := range err.(*errs.Error).Fields {
				l.Add(map[string]string{"X-Purpose": "purpose", "X-Case-Id": "case_id"}[f.Field], "%s", f.Reason)
			}
		}
	}
	if err := l.Err(); err != nil {
		return nil, err
	}
	var cov *Coverage
	if consumer {
		// Without any agreement the answer still helps the office: each
		// certificate material is not_permitted, so it asks for an
		// agreement rather than for the paper.
		if cov, err = r.Registry.Coverage(ctx, by.Consumer, req.Purpose); err != nil {
			if e, ok := err.(*errs.Error); ok && e.Field == "X-Purpose" {
				e.Field = "purpose"
			}
			return nil, err
		}
	}
	// Every type any material names, in one query; the types other hubs
	// hold, one forwarded lookup each.
	var types []string
	remote := map[string]*remoteAnswer{}
	for _, m := range it.Materials {
		for _, t := range m.Types {
			if _, done := remote[t]; done || slices.Contains(types, t) {
				continue
			}
			if ra, err := r.remoteType(ctx, by, t, kind, req, cov); err != nil {
				return nil, err
			} else if ra != nil {
				remote[t] = ra
				continue
			}
			if cov == nil || cov.ByType[t] != nil {
				types = append(types, t)
			}
		}
	}
	var held []*certificates.Certificate
	if len(types) > 0 {
		if held, _, err = r.Certs.Find(ctx, certificates.Scope{}, certificates.FindRequest{HolderID: req.Applicant.ID, HolderKind: kind,
			Types: types, Limit: 500}); err != nil {
			return nil, err
		}
		if r.Copies != nil {
			copies, err := r.Copies.FindCopies(ctx, r.Certs.Vault.Index(string(kind), req.Applicant.ID), types)
			if err != nil {
				return nil, err
			}
			held = append(held, copies...)
		}
	}
	ans := &ResolveAnswer{Item: it.Code, ItemName: it.Name, Department: it.Department, CaseID: req.CaseID, ToBring: []string{}}
	today := r.Certs.Today()
	var entries []AuditEntry
	for _, m := range it.Materials {
		a := r.material(ctx, &m, cov, held, remote, today)
		ans.Materials = append(ans.Materials, a)
		ans.Required++
		if a.Avoided {
			ans.Avoided++
		}
		if a.Outcome == OutcomeNotPermitted && !a.OriginalRequired {
			ans.AvoidableWithAgreement++
		}
		if a.Outcome != OutcomeSatisfied || a.OriginalRequired {
			ans.ToBring = append(ans.ToBring, m.Name)
		}
		if c := a.Certificate; c != nil && consumer {
			fields := make([]string, 0, len(c.Fields))
			for f := range c.Fields {
				fields = append(fields, f)
			}
			slices.Sort(fields)
			e := AuditEntry{Actor: by.Actor(), ActorName: by.Name, Action: "resolve", Certificates: []string{c.ID},
				Holder: r.Certs.Vault.Index(string(kind), req.Applicant.ID), Fields: fields, Purpose: req.Purpose, CaseID: req.CaseID,
				Agreement: a.Agreement, Outcome: a.Outcome + ": " + it.Code + " / " + m.Name}
			if a.Hub != nil {
				e.RequestID, e.Outcome = a.Hub.RequestID, e.Outcome+" (hub "+a.Hub.ID+")"
			}
			entries = append(entries, e)
		}
	}
	if !consumer {
		return ans, nil
	}
	// One entry per certificate used, all in one append, and the case's
	// record: in the same transaction where the store can (one commit to
	// wait for), otherwise two writes waited for together. Either failing
	// fails the resolve; the department's retry with the same case id
	// upserts the same record.
	now := r.Now()
	rec := &Resolution{Item: it.Code, CaseID: req.CaseID, Department: it.Department, Consumer: by.Consumer,
		Day: certificates.DateOf(now, r.Certs.Location).String(), Required: ans.Required, Avoided: ans.Avoided,
		Avoidable: ans.AvoidableWithAgreement, At: now.UTC().Truncate(time.Microsecond)}
	if err := r.Ledger.RecordWithCase(ctx, entries, r.Store, rec); err != nil {
		return nil, err
	}
	return ans, nil
}

// material answers one material from the applicant's certificates.
func (r *Resolver) material(ctx context.Context, m *Material, cov *Coverage, held []*certificates.Certificate, remote map[string]*remoteAnswer,
	today certificates.Date) (a MaterialAnswer) {
	a = MaterialAnswer{Name: m.Name, OriginalRequired: m.OriginalRequired, LegalBasis: m.LegalBasis, Flags: m.Flags}
	defer func() {
		// A copy another hub pushed here names its home hub; this hub's
		// agreement answered for it.
		if c := a.Certificate; c != nil && a.Hub == nil && r.Copies != nil {
			for _, h := range held {
				if h.ID == c.ID && h.HomeHub != "" {
					a.Hub = &MaterialHub{ID: h.HomeHub, Name: r.Copies.HubName(ctx, h.HomeHub)}
				}
			}
		}
	}()
	if !m.Certificate {
		a.Outcome, a.Reason = OutcomeProvide, "not a government-issued certificate: the applicant provides it"
		return a
	}
	if done := remoteMaterial(&a, m, held, remote, today); done {
		return a
	}
	var covered, uncovered []string
	for _, t := range m.Types {
		if remote[t] != nil {
			continue
		}
		if cov == nil || cov.ByType[t] != nil {
			covered = append(covered, t)
		} else {
			uncovered = append(uncovered, t)
		}
	}
	// The best certificate: an acceptable one first, then the newest.
	var best *certificates.Certificate
	bestOK := false
	for _, c := range held {
		if !slices.Contains(covered, c.Type) {
			continue
		}
		ok := m.Accepts(c.StatusOn(today))
		if best == nil || (ok && !bestOK) || (ok == bestOK && c.IssuedAt.After(best.IssuedAt)) {
			best, bestOK = c, ok
		}
	}
	if best == nil || !bestOK {
		if len(uncovered) > 0 {
			why := make([]string, 0, len(uncovered))
			for _, t := range uncovered {
				why = append(why, cov.Why(t))
			}
			a.Outcome = OutcomeNotPermitted
			a.Reason = fmt.Sprintf("purpose %q: %s; ask for an agreement, not the applicant", cov.Purpose, strings.Join(why, "; "))
			return a
		}
		if best == nil {
			a.Outcome, a.Reason = OutcomeNotFound, "the applicant holds no such certificate: they must provide it"
			return a
		}
	}
	st := best.StatusOn(today)
	a.Certificate = &UsedCert{ID: best.ID, Type: best.Type, Version: best.Version, Status: string(st)}
	var grant *Grant
	if cov != nil {
		ag := cov.ByType[best.Type]
		a.Agreement, grant = ag.ID, ag.Grant(best.Type)
	}
	if !bestOK {
		a.Outcome = string(st)
		a.Reason = fmt.Sprintf("certificate %s is %s (%s); this material accepts %s", best.ID, st, st.Label(), strings.Join(acceptable(m), ", "))
		return a
	}
	a.Outcome = OutcomeSatisfied
	a.Certificate.Fields = map[string]any{}
	want := m.Fields
	if len(want) == 0 && grant != nil {
		want = grant.Fields
	}
	for _, f := range want {
		if grant != nil && !grant.Permits(f) {
			continue
		}
		if f == FieldHolderName {
			a.Certificate.Fields[f] = best.Holder.Name
		} else if v, ok := best.Data[f]; ok {
			a.Certificate.Fields[f] = v
		}
	}
	a.Avoided = !m.OriginalRequired
	if m.OriginalRequired {
		a.Reason = "satisfied, but the original is still legally required: " + m.LegalBasis
	}
	return a
}

func acceptable(m *Material) []string {
	if len(m.Statuses) == 0 {
		return []string{string(certificates.StatusValid)}
	}
	return m.Statuses
}
