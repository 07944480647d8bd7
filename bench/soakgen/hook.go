package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// receiver is a webhook endpoint as a consumer would run one: it checks
// each delivery's X-Certhub-Signature against the hub's JWKS and
// de-duplicates by event id.
type receiver struct {
	jwksURL string
	client  *http.Client
	srv     *http.Server
	url     string

	mu         sync.Mutex
	keys       map[string]jwk.Key // by kid
	deliveries int                // 2xx answers given
	badSig     int                // deliveries refused for their signature
	samples    []string           // first few refusals
	issued     map[string]int     // certificate id → distinct certificate.issued events
	events     map[string]bool
	dupEvents  int // deliveries of an event id already seen (allowed: at least once)
}

func newReceiver(jwksURL string, client *http.Client) (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &receiver{jwksURL: jwksURL, client: client, keys: map[string]jwk.Key{}, issued: map[string]int{}, events: map[string]bool{},
		url: "http://" + ln.Addr().String() + "/hook"}
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serveHTTP), ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, IdleTimeout: time.Minute}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

// key finds the verification key of a kid, fetching the JWKS again only
// for a kid it does not know (as docs/operations.md tells receivers to).
// Only the entry of that kid is parsed: the set also holds seal keys whose
// x5c certificates (SM2) jwx cannot read, and a receiver has no use for them.
func (r *receiver) key(ctx context.Context, kid string) (jwk.Key, error) {
	r.mu.Lock()
	k, ok := r.keys[kid]
	r.mu.Unlock()
	if ok {
		return k, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.jwksURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var set struct{ Keys []json.RawMessage }
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		return nil, fmt.Errorf("%s: %w", r.jwksURL, err)
	}
	for _, raw := range set.Keys {
		var head struct{ Kid string }
		if json.Unmarshal(raw, &head) != nil || head.Kid != kid {
			continue
		}
		k, err := jwk.ParseKey(raw)
		if err != nil {
			return nil, fmt.Errorf("kid %q: %w", kid, err)
		}
		r.mu.Lock()
		r.keys[kid] = k
		r.mu.Unlock()
		return k, nil
	}
	return nil, fmt.Errorf("kid %q is not in %s", kid, r.jwksURL)
}

func (r *receiver) refuse(w http.ResponseWriter, why string) {
	r.mu.Lock()
	r.badSig++
	if len(r.samples) < 5 {
		r.samples = append(r.samples, why)
	}
	r.mu.Unlock()
	http.Error(w, why, http.StatusUnauthorized)
}

func (r *receiver) serveHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	sig := req.Header.Get("X-Certhub-Signature")
	msg, err := jws.Parse([]byte(sig), jws.WithCompact())
	if err != nil || len(msg.Signatures()) != 1 {
		r.refuse(w, fmt.Sprintf("X-Certhub-Signature %.40q does not parse: %v", sig, err))
		return
	}
	h := msg.Signatures()[0].ProtectedHeaders()
	kid, _ := h.KeyID()
	if alg, _ := h.Algorithm(); alg != jwa.EdDSA() {
		r.refuse(w, fmt.Sprintf("signature algorithm %v, want EdDSA", alg))
		return
	}
	k, err := r.key(req.Context(), kid)
	if err != nil {
		r.refuse(w, err.Error())
		return
	}
	if _, err := jws.Verify([]byte(sig), jws.WithKey(jwa.EdDSA(), k), jws.WithDetachedPayload(body)); err != nil {
		r.refuse(w, "body does not verify: "+err.Error())
		return
	}
	var p struct {
		Type  string
		Event struct {
			ID            string
			CertificateID string `json:"certificate_id"`
		}
	}
	if err := json.Unmarshal(body, &p); err != nil || p.Event.ID == "" {
		http.Error(w, "not an event", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.deliveries++
	if r.events[p.Event.ID] {
		r.dupEvents++
	} else {
		r.events[p.Event.ID] = true
		if p.Type == "certificate.issued" {
			r.issued[p.Event.CertificateID]++
		}
	}
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// missing counts the ids that have had no certificate.issued event yet,
// and those that have had more than one distinct one.
func (r *receiver) missing(ids []string) (missing, extra int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		switch r.issued[id] {
		case 0:
			missing++
		case 1:
		default:
			extra++
		}
	}
	return missing, extra
}

// subscribe registers the receiver for the issuance of the run's type, as
// the department system.
func (r *receiver) subscribe(ctx context.Context, l *load, base string) (string, error) {
	body, _ := json.Marshal(map[string]any{"url": r.url, "types": []string{foodType}, "events": []string{"issued"}})
	b, err := l.call(ctx, http.MethodPost, base+"/api/v1/subscriptions", l.consumer, nil, body)
	if err != nil {
		return "", fmt.Errorf("subscribe: %w", err)
	}
	var s struct{ ID string }
	if err := json.Unmarshal(b, &s); err != nil || s.ID == "" {
		return "", fmt.Errorf("subscribe: %.200s", b)
	}
	return s.ID, nil
}
