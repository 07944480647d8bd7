package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/text/width"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
)

// Match limits: a match compares a handful of claimed values; anything
// bigger is not a match request.
const (
	maxMatchBytes  = 16 << 10
	maxMatchFields = 32
)

type matchBody struct {
	Type       string         `json:"type"`
	HolderID   string         `json:"holder_id"`
	HolderKind string         `json:"holder_kind"`
	Fields     map[string]any `json:"fields"`
}

// Match results, like the provincial systems' 比对 result codes.
const (
	matchValid       = "valid"        // 一致: the certificate is valid and every permitted claim matches
	matchNotFound    = "not_found"    // 查无此证
	matchInvalid     = "invalid"      // 证照状态异常: found, but not valid today
	matchPartlyWrong = "partly_wrong" // 部分信息不一致
)

var matchLabels = map[string]string{matchValid: "一致", matchNotFound: "查无此证", matchInvalid: "证照状态异常", matchPartlyWrong: "部分信息不一致"}

// Per-field answers.
const (
	fieldMatch        = "match"
	fieldMismatch     = "mismatch"
	fieldNotPermitted = "not_permitted"
)

type matchAnswer struct {
	Result        string            `json:"result"`
	ResultLabel   string            `json:"result_label"`
	Fields        map[string]string `json:"fields"`
	CertificateID string            `json:"certificate_id,omitempty"`
	// Hub names the home hub when the certificate compared is a copy of
	// another hub's kept here (aggregation).
	Hub         *verifyHub `json:"hub,omitempty"`
	Status      string     `json:"status,omitempty"`
	StatusCode  string     `json:"status_code,omitempty"`
	StatusLabel string     `json:"status_label,omitempty"`
	Agreement   string     `json:"agreement"`
}

// match compares a department's claimed values with the holder's
// certificate of a type and says, per field, whether they match — without
// returning any value.
func (s *Server) match(w http.ResponseWriter, r *http.Request) {
	if fed, err := scopeOf(r.URL.Query()); err != nil {
		s.fail(w, r, err)
		return
	} else if fed {
		raw, err := readForForward(w, r, maxMatchBytes)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		var t struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(raw, &t)
		if s.forward(w, r, t.Type, raw) {
			return
		}
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxMatchBytes)
	var b matchBody
	if err := s.decode(w, r, &b); err != nil {
		if errs.Is(err, errs.TooLarge) {
			err = &errs.Error{Code: errs.TooLarge, Field: "body", Message: fmt.Sprintf("a match request is at most %d bytes", maxMatchBytes)}
		}
		s.fail(w, r, err)
		return
	}
	var l errs.List
	t, err := s.Certs.Type(r.Context(), b.Type)
	if errs.Is(err, errs.NotFound) && b.Type != "" {
		if ct, cerr := s.copyType(r, b.Type); !errs.Is(cerr, errs.NotFound) {
			t, err = ct, cerr // a type of the copies kept here
		}
	}
	switch {
	case b.Type == "":
		l.Add("type", "is required")
	case errs.Is(err, errs.NotFound):
		l.Add("type", "unknown certificate type %q", b.Type)
	case err != nil:
		s.fail(w, r, err)
		return
	}
	kind := certificates.HolderKind(b.HolderKind)
	if kind == "" {
		kind = certificates.HolderKindOf(b.HolderID)
	}
	if b.HolderID == "" {
		l.Add("holder_id", "is required")
	} else if err := certificates.ValidateHolderID(kind, b.HolderID); err != nil {
		l.Add("holder_id", "%v", err)
	}
	switch {
	case len(b.Fields) == 0:
		l.Add("fields", "must hold at least one claimed value")
	case len(b.Fields) > maxMatchFields:
		s.fail(w, r, &errs.Error{Code: errs.TooLarge, Field: "fields", Message: fmt.Sprintf("at most %d claimed values per match, got %d", maxMatchFields, len(b.Fields))})
		return
	}
	if t != nil {
		for name, v := range b.Fields {
			if name != exchange.FieldHolderName && !hasField(t, name) {
				l.Add("fields."+name, "type %s has no field %q", t.Code, name)
			}
			if _, ok := claimText(v); !ok {
				l.Add("fields."+name, "must be a string, number or true/false")
			}
		}
	}
	if err := l.Err(); err != nil {
		s.fail(w, r, err)
		return
	}
	cov, err := s.coverage(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	pm, err := s.permitFor(w, r, cov, t.Code, false)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	found, _, err := s.Certs.Find(r.Context(), certificates.Scope{}, certificates.FindRequest{HolderID: b.HolderID, HolderKind: kind, Type: t.Code, Limit: 100})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	holder := s.Certs.Vault.Index(string(kind), b.HolderID)
	if s.Copies != nil {
		copies, err := s.Copies.FindCopies(r.Context(), holder, []string{t.Code})
		if err != nil {
			s.fail(w, r, err)
			return
		}
		found = append(found, copies...)
	}
	ans, best := s.compare(found, b.Fields, pm.grant)
	ans.Agreement = pm.agreement.ID
	if best != nil && best.HomeHub != "" {
		ans.Hub = &verifyHub{ID: best.HomeHub, Name: s.Copies.HubName(r.Context(), best.HomeHub)}
	}
	e := exchange.AuditEntry{Holder: holder, Agreement: pm.agreement.ID, Outcome: ans.Result}
	if best != nil {
		e.Certificates = []string{best.ID}
	} else {
		e.Outcome += " (" + t.Code + ")"
	}
	for name, res := range ans.Fields {
		if res != fieldNotPermitted {
			e.Fields = append(e.Fields, name)
		}
	}
	if err := s.record(r, "match", e); err != nil {
		s.fail(w, r, err)
		return
	}
	if best != nil {
		s.follow(r, best)
	}
	agreementHeader(w, []string{pm.agreement.ID})
	s.writeJSON(w, http.StatusOK, ans)
}

func hasField(t *certificates.Type, name string) bool {
	for _, f := range t.Fields {
		if f.Name == name {
			return true
		}
	}
	return false
}

// compare answers against the best of the holder's certificates: a valid
// one before others, then the one with most matching claims.
func (s *Server) compare(found []*certificates.Certificate, claims map[string]any, g *exchange.Grant) (matchAnswer, *certificates.Certificate) {
	ans := matchAnswer{Result: matchNotFound, Fields: map[string]string{}}
	for name := range claims {
		ans.Fields[name] = fieldNotPermitted
		if g.Permits(name) {
			ans.Fields[name] = fieldMismatch
		}
	}
	var best *certificates.Certificate
	bestScore := -1
	today := s.Certs.Today()
	for _, c := range found {
		score := 0
		for name, v := range claims {
			if g.Permits(name) && sameValue(v, claimedOf(c, name)) {
				score++
			}
		}
		if c.StatusOn(today) == certificates.StatusValid {
			score += 1000
		}
		if score > bestScore {
			best, bestScore = c, score
		}
	}
	if best == nil {
		return ans, nil
	}
	mismatch := false
	for name, v := range claims {
		if !g.Permits(name) {
			continue
		}
		if sameValue(v, claimedOf(best, name)) {
			ans.Fields[name] = fieldMatch
		} else {
			mismatch = true
		}
	}
	st := best.StatusOn(today)
	ans.CertificateID, ans.Status, ans.StatusCode, ans.StatusLabel = best.ID, string(st), st.Code(), st.Label()
	switch {
	case st != certificates.StatusValid:
		ans.Result = matchInvalid
	case mismatch:
		ans.Result = matchPartlyWrong
	default:
		ans.Result = matchValid
	}
	ans.ResultLabel = matchLabels[ans.Result]
	return ans, best
}

func claimedOf(c *certificates.Certificate, name string) any {
	if name == exchange.FieldHolderName {
		return c.Holder.Name
	}
	return c.Data[name]
}

// sameValue compares a claim with a stored value as people write them:
// surrounding spaces, full-width letters and digits (ＡＢＣ１２３), and
// letter case do not matter; numbers compare by value.
func sameValue(claim, stored any) bool {
	a, ok1 := claimText(claim)
	b, ok2 := claimText(stored)
	if !ok1 || !ok2 || stored == nil {
		return false
	}
	return strings.EqualFold(a, b)
}

func claimText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(width.Fold.String(x)), true
	case json.Number:
		if f, err := x.Float64(); err == nil {
			return strconv.FormatFloat(f, 'f', -1, 64), true
		}
		return x.String(), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}
