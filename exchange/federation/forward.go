package federation

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// ForwardedBy is the header a forwarded request carries, naming the hub
// that forwarded it. A hub never forwards a request that carries it, so a
// request crosses at most one hop and never loops.
const ForwardedBy = "X-Certhub-Forwarded-By"

// NoRoute is the reason no call is made to another hub: the hub to ask
// has no live entry in this hub's directory (none at all, or only one past
// its exp, from a directory kept while its signer was unreachable).
const NoRoute Reason = "no_route"

// maxAnswer bounds a forwarded call's answer.
const maxAnswer = 1 << 20

// Live returns hub id's entry for a live call: it must be in the directory
// and not stale. The error has Reason NoRoute otherwise.
func (s *Service) Live(ctx context.Context, id string) (*Entry, error) {
	v, err := s.View(ctx)
	if err != nil {
		return nil, err
	}
	e := v.Hub(id)
	switch {
	case e == nil:
		return nil, fail(NoRoute, id, "no chain of entries from the root vouches for hub %s", id)
	case e.Stale:
		return nil, fail(NoRoute, id, "the entry %s signed for hub %s expired at %s; live calls wait for a fresh directory",
			e.Signer, id, e.Expires.UTC().Format(time.RFC3339))
	}
	return e, nil
}

// Route names the hub that holds the certificates of an authority (a
// USCC): the hub whose entry lists it, the one of the deepest level when
// several do (its own region's), else this hub's parent. It returns ""
// when the certificates are this hub's to answer for: it lists the
// authority itself, or it is the root and no hub lists it.
func (s *Service) Route(ctx context.Context, authority string) (string, error) {
	return s.route(ctx, func(e *Entry) bool { return slices.Contains(e.Authorities, authority) })
}

// route names the hub whose entry holds (the deepest level when several
// do), else this hub's parent; "" when this hub holds, or it is the root
// and no hub does.
func (s *Service) route(ctx context.Context, holds func(*Entry) bool) (string, error) {
	self, err := s.Self(ctx)
	if err != nil {
		return "", err
	}
	v, err := s.merged(ctx, self, s.now())
	if err != nil {
		return "", err
	}
	best := ""
	for _, e := range v.Sorted() {
		if !holds(e) {
			continue
		}
		if e.ID == self.ID {
			return "", nil
		}
		if best == "" || level(e.ID) > level(best) {
			best = e.ID
		}
	}
	if best == "" && !self.IsRoot() {
		best = self.Parent
	}
	return best, nil
}

// Forward posts a JSON body to path on hub e (a live entry), marked as
// forwarded by this hub, and returns the answer's body. A hub that does
// not answer gives a RemoteError that is Unreachable; an answer other than
// 200 one that is not, with the far hub's message.
func (s *Service) Forward(ctx context.Context, e *Entry, path string, body []byte) ([]byte, error) {
	self, err := s.Self(ctx)
	if err != nil {
		return nil, err
	}
	url := strings.TrimRight(e.URL, "/") + path
	st, status, b, err := s.roundTrip(ctx, e.ID, http.MethodPost, url, body, http.Header{ForwardedBy: {self.ID}}, maxAnswer)
	switch {
	case err != nil:
		return nil, err
	case len(b) > maxAnswer:
		return nil, &RemoteError{Hub: e.ID, Err: fmt.Errorf("POST %s: the answer is over %d bytes", url, maxAnswer)}
	case st != http.StatusOK:
		return nil, farError(e.ID, http.MethodPost, url, status, b)
	}
	return b, nil
}

// roundTrip sends one call to hub (a JSON body, or none) and reads up to
// limit+1 bytes of the answer, whatever its status: what it answered is the
// caller's to judge. A hub that does not answer is a RemoteError that is
// Unreachable.
func (s *Service) roundTrip(ctx context.Context, hub, method, url string, body []byte, header http.Header, limit int64) (int, string, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, "", nil, &RemoteError{Hub: hub, Err: err}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := s.client().Do(req)
	if err != nil {
		return 0, "", nil, &RemoteError{Hub: hub, Unreachable: true, Err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return 0, "", nil, &RemoteError{Hub: hub, Unreachable: true, Err: err}
	}
	return resp.StatusCode, resp.Status, b, nil
}

// farError is the RemoteError of an answer that is not the one expected,
// with the far hub's own reason (certhub's JSON error message).
func farError(hub, method, url, status string, b []byte) *RemoteError {
	var m struct {
		Error struct{ Message string } `json:"error"`
	}
	_ = json.Unmarshal(b, &m)
	return &RemoteError{Hub: hub, Err: fmt.Errorf("%s %s: %s: %.300s", method, url, status, m.Error.Message)}
}
