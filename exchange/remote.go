package exchange

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/errs"
)

// Remote is the federation as the exchange sees it (exchange/federation
// implements it): which hub holds a certificate type this hub does not,
// and an applicant's certificates of that type there, looked up as a
// department system of this hub, under that hub's agreements.
type Remote interface {
	// HolderOf names the hub that holds certificates of typ when another
	// hub of the federation does; "" when none does (or this one).
	HolderOf(ctx context.Context, typ string) (string, error)
	// FindRemote looks up holder's certificates of typ at hub for consumer
	// by, for purpose and case. A refusal by that hub's agreements is
	// errs.Forbidden; a hub that cannot answer errs.Unavailable.
	FindRemote(ctx context.Context, by *Principal, hub, typ string, kind certificates.HolderKind, holderID, purpose, caseID string) (*RemoteFind, error)
}

// RemoteFind is what another hub answered: its certificates of the type,
// with the fields its agreement grants.
type RemoteFind struct {
	Hub          string
	HubName      string
	RequestID    string
	Certificates []RemoteCertificate
}

// RemoteCertificate is one certificate another hub answered with.
type RemoteCertificate struct {
	ID        string              `json:"id"`
	Type      string              `json:"type"`
	Version   int                 `json:"version"`
	Holder    certificates.Holder `json:"holder"`
	Data      map[string]any      `json:"data"`
	Status    certificates.Status `json:"status"`
	Agreement string              `json:"agreement"`
}

// MaterialHub names the hub a material's certificate was found in, when
// it is another one, and the request id both hubs' ledgers carry.
type MaterialHub struct {
	ID        string `json:"id"`
	Name      string `json:"name,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

// remoteAnswer is what the hub holding one type said, or why it did not.
type remoteAnswer struct {
	hub  string
	find *RemoteFind
	err  error
}

// remoteType asks the hub that holds typ, when it is another hub's type
// (unknown here, held by a hub of the federation); nil when it is not.
// Only a department's resolve asks: a holder asking for themselves is not
// a department of any hub. A type whose copies a child pushed here is
// answered from them (nil) when this hub's agreements cover it (cov nil:
// the holder, who sees all); otherwise the hub that holds it is asked, and
// its own agreements decide.
func (r *Resolver) remoteType(ctx context.Context, by *Principal, typ string, kind certificates.HolderKind, req *ResolveRequest,
	cov *Coverage) (*remoteAnswer, error) {
	if r.Remote == nil {
		return nil, nil
	}
	if _, err := r.Certs.Type(ctx, typ); !errs.Is(err, errs.NotFound) {
		return nil, err
	}
	if r.Copies != nil && (cov == nil || cov.ByType[typ] != nil) {
		if _, err := r.Copies.FederatedType(ctx, typ); err == nil {
			return nil, nil
		} else if !errs.Is(err, errs.NotFound) {
			return nil, err
		}
	}
	hub, err := r.Remote.HolderOf(ctx, typ)
	if err != nil || hub == "" {
		return nil, nil // in no federation, or nobody's: not_found as here
	}
	if by.Role != RoleConsumer {
		return &remoteAnswer{hub: hub, err: errs.E(errs.Unavailable, "only a department system's resolve asks hub %s", hub)}, nil
	}
	find, err := r.Remote.FindRemote(ctx, by, hub, typ, kind, req.Applicant.ID, req.Purpose, req.CaseID)
	if err != nil && !errs.Is(err, errs.Forbidden) && !errs.Is(err, errs.Unavailable) {
		return nil, err
	}
	return &remoteAnswer{hub: hub, find: find, err: err}, nil
}

// remoteMaterial answers a material from the certificates other hubs
// answered with: one that is acceptable, or, when every type of the
// material is another hub's, why none is. It reports false when the
// material is this hub's to answer.
func remoteMaterial(a *MaterialAnswer, m *Material, held []*certificates.Certificate, remote map[string]*remoteAnswer, today certificates.Date) bool {
	var answers []*remoteAnswer
	local := false
	for _, t := range m.Types {
		if ra := remote[t]; ra != nil {
			answers = append(answers, ra)
		} else {
			local = true
		}
	}
	if len(answers) == 0 {
		return false
	}
	var best *RemoteCertificate
	var from *remoteAnswer
	bestOK := false
	for _, ra := range answers {
		if ra.find == nil {
			continue
		}
		for i := range ra.find.Certificates {
			c := &ra.find.Certificates[i]
			if !slices.Contains(m.Types, c.Type) {
				continue
			}
			ok := m.Accepts(c.Status)
			if best == nil || ok && !bestOK {
				best, from, bestOK = c, ra, ok
			}
		}
	}
	if local && !bestOK {
		for _, c := range held {
			if slices.Contains(m.Types, c.Type) && m.Accepts(c.StatusOn(today)) {
				return false // this hub holds an acceptable one
			}
		}
		if best == nil {
			return false
		}
	}
	if best == nil {
		// Why no hub had one: a refusal first, then a failure, else none.
		ra := answers[0]
		for _, x := range answers {
			if errs.Is(x.err, errs.Forbidden) || (x.err != nil && ra.err == nil) {
				ra = x
			}
		}
		a.Hub = &MaterialHub{ID: ra.hub}
		if ra.find != nil {
			a.Hub.Name, a.Hub.RequestID = ra.find.HubName, ra.find.RequestID
		}
		switch {
		case errs.Is(ra.err, errs.Forbidden):
			a.Outcome = OutcomeNotPermitted
			a.Reason = fmt.Sprintf("hub %s, which holds these certificates, refuses: %s; ask it for an agreement, not the applicant", ra.hub, message(ra.err))
		case ra.err != nil:
			a.Outcome = OutcomeUnavailable
			a.Reason = fmt.Sprintf("hub %s, which holds these certificates, could not be asked: %s", ra.hub, message(ra.err))
		default:
			a.Outcome, a.Reason = OutcomeNotFound, fmt.Sprintf("the applicant holds no such certificate at hub %s: they must provide it", ra.hub)
		}
		return true
	}
	a.Hub = &MaterialHub{ID: from.find.Hub, Name: from.find.HubName, RequestID: from.find.RequestID}
	a.Certificate = &UsedCert{ID: best.ID, Type: best.Type, Version: best.Version, Status: string(best.Status)}
	a.Agreement = best.Agreement
	if !bestOK {
		a.Outcome = string(best.Status)
		a.Reason = fmt.Sprintf("certificate %s is %s (%s); this material accepts %s", best.ID, best.Status, best.Status.Label(), strings.Join(acceptable(m), ", "))
		return true
	}
	a.Outcome = OutcomeSatisfied
	a.Certificate.Fields = map[string]any{}
	want := m.Fields
	if len(want) == 0 {
		for f := range best.Data {
			want = append(want, f)
		}
		want = append(want, FieldHolderName)
	}
	for _, f := range want {
		if f == FieldHolderName {
			if best.Holder.Name != "" {
				a.Certificate.Fields[f] = best.Holder.Name
			}
		} else if v, ok := best.Data[f]; ok {
			a.Certificate.Fields[f] = v
		}
	}
	a.Avoided = !m.OriginalRequired
	if m.OriginalRequired {
		a.Reason = "satisfied, but the original is still legally required: " + m.LegalBasis
	}
	return true
}

// message is an error's message for people, without its code.
func message(err error) string {
	var e *errs.Error
	if errors.As(err, &e) && e.Message != "" {
		return e.Message
	}
	return err.Error()
}
