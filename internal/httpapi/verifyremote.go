package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange/federation"
	"github.com/certhub/certhub/internal/errs"
)

// Reasons of a verification forwarded to the hub that holds the
// certificate, saying which side failed (docs/federation.md).
const (
	// reasonRemoteUnreachable: the home hub did not answer (connect 2 s,
	// answer 5 s).
	reasonRemoteUnreachable = "remote_unreachable"
	// reasonRemoteHub: the home hub answered, with an error or with
	// something that is not a verification.
	reasonRemoteHub = "remote_hub"
	// reasonNoRoute: this hub's directory has no live entry for the home
	// hub (its entry expired): no live call is made.
	reasonNoRoute = string(federation.NoRoute)
)

// verifyElsewhere answers for a certificate another hub of the federation
// holds. A document sealed with another hub's key (known from that hub's
// trust list), whose signature and key window check out here but whose
// certificate this hub does not hold, is sent to that hub; an identifier
// this hub does not hold goes to the hub that lists its issuing authority,
// else to this hub's parent. The answer is the far hub's, with hub set.
// Nothing is forwarded that already was (federation.ForwardedBy), and
// nothing from a failed call is kept.
func (s *Server) verifyElsewhere(r *http.Request, b verifyBody, v *certificates.Verification, local verifyAnswer) (verifyAnswer, error) {
	ctx := r.Context()
	notHere := slices.Contains(v.Reasons, certificates.ReasonNotFound)
	held := !(notHere && len(v.Reasons) == 1)
	by := r.Header.Get(federation.ForwardedBy)
	forwarded := by != ""
	if forwarded {
		// Unsigned: it only stops a second hop; the answer is public anyway.
		s.Log.InfoContext(ctx, "verify forwarded by another hub", "by", by[:min(len(by), 16)])
	}
	home := v.Home
	var body []byte
	if b.Document != "" {
		if home == "" {
			return local, nil
		}
		local.Hub = s.hubOf(ctx, home)
		if notHere && held {
			// The document fails here on its own (its key's window by the
			// home hub's trust list, its claims): that is final whatever
			// the home hub's registry says, so it is not asked, and that
			// this hub holds no copy is beside the point.
			local.Reasons = slices.DeleteFunc(slices.Clone(local.Reasons), func(r string) bool { return r == certificates.ReasonNotFound })
		}
		if held || forwarded {
			return local, nil
		}
		body, _ = json.Marshal(map[string]string{"document": strings.TrimSpace(b.Document)})
	} else {
		if held || forwarded {
			return local, nil
		}
		id, err := certificates.ParseIdentifier(strings.TrimSpace(b.ID))
		if err != nil {
			return local, nil // not_found is given only to a well-formed id
		}
		home, err = s.Federation.Route(ctx, id.Issuer)
		if errs.Is(err, errs.NotFound) || err == nil && home == "" {
			return local, nil // in no federation, or this hub's to answer
		}
		if err != nil {
			return local, err
		}
		local.Hub = s.hubOf(ctx, home)
		body, _ = json.Marshal(map[string]string{"id": id.String()})
	}
	e, err := s.Federation.Live(ctx, home)
	if federation.ReasonOf(err) == federation.NoRoute {
		s.Log.WarnContext(ctx, "verify: no live route", "hub", home, "error", err.Error())
		return s.fromCopy(r, b, local, reasonNoRoute), nil
	}
	if err != nil {
		return local, err
	}
	raw, err := s.Federation.Forward(ctx, e, "/api/v1/verify", body)
	var re *federation.RemoteError
	if errors.As(err, &re) {
		s.Log.WarnContext(ctx, "verify: forwarding failed", "hub", home, "error", err.Error())
		if re.Unreachable {
			return s.fromCopy(r, b, local, reasonRemoteUnreachable), nil
		}
		return s.fromCopy(r, b, local, reasonRemoteHub), nil
	}
	if err != nil {
		return local, err
	}
	var far verifyAnswer
	if err := json.Unmarshal(raw, &far); err != nil || far.Reasons == nil {
		s.Log.WarnContext(ctx, "verify: the home hub's answer is not a verification", "hub", home)
		return remoteFailed(local, reasonRemoteHub), nil
	}
	far.Hub = local.Hub
	s.Log.InfoContext(ctx, "verify forwarded", "hub", home, "valid", far.Valid)
	return far, nil
}

// fromCopy answers from the copy of the certificate its home hub pushed
// here (aggregation), when the home hub could not answer; without a copy
// it is remoteFailed. A document must be the one pushed (its sha-256).
// The copy is as fresh as the last push: seconds behind the home hub while
// both are up, and the answer says so (source, as_of, unanswered).
func (s *Server) fromCopy(r *http.Request, b verifyBody, local verifyAnswer, reason string) verifyAnswer {
	ctx := r.Context()
	failed := remoteFailed(local, reason)
	if s.Federation.Inbox == nil {
		return failed
	}
	id := strings.TrimSpace(b.ID)
	if b.Document != "" {
		id = documentID(b.Document)
	}
	c, err := s.Federation.Inbox.FederatedVersion(ctx, id)
	if err != nil {
		return failed
	}
	v := &certificates.Verification{KID: local.KID}
	if b.Document != "" {
		sum := sha256.Sum256([]byte(strings.TrimSpace(b.Document)))
		if hex.EncodeToString(sum[:]) != c.DocumentSHA256 {
			v.Reasons = append(v.Reasons, certificates.ReasonUnknownDocument)
		}
	}
	s.Certs.Judge(v, c.Record())
	a := s.verifyAnswer(r, v, b.Document != "")
	a.Authority, a.KID, a.Hub = local.Authority, local.KID, local.Hub
	if a.KID == "" {
		a.KID = c.KID
	}
	at := c.UpdatedAt
	a.Source, a.AsOf, a.Unanswered = "aggregated", &at, reason
	return a
}

// documentID reads the certificate id a document claims (its signature is
// checked by then).
func documentID(doc string) string {
	var c struct {
		ID string `json:"id"`
	}
	_, _ = federation.Peek(strings.TrimSpace(doc), &c)
	return c.ID
}

// remoteFailed is the local answer with not_found replaced by the reason
// the home hub could not say: what this hub checked (the signature, by
// the home hub's trust list) stays in it.
func remoteFailed(local verifyAnswer, reason string) verifyAnswer {
	local.Valid = false
	local.Reasons = []string{reason}
	return local
}

// hubOf names a hub of the directory.
func (s *Server) hubOf(ctx context.Context, id string) *verifyHub {
	h := &verifyHub{ID: id}
	if v, err := s.Federation.View(ctx); err == nil {
		if e := v.Hub(id); e != nil {
			h.Name = e.Name
		}
	}
	return h
}

// VerifyElsewhere is verifyElsewhere for the clerk page (internal/web): it
// returns the answer, as POST /api/v1/verify gives it, when the
// certificate is another hub's (the answer names that hub), and nil when
// it is this hub's to answer.
func (s *Server) VerifyElsewhere(r *http.Request, document, id string, v *certificates.Verification) ([]byte, error) {
	if s.Federation == nil {
		return nil, nil
	}
	b := verifyBody{Document: document, ID: id}
	ans, err := s.verifyElsewhere(r, b, v, s.verifyAnswer(r, v, document != ""))
	if err != nil || ans.Hub == nil {
		return nil, err
	}
	return json.Marshal(ans)
}
