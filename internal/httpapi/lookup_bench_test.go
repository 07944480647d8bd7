package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/demo"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/filestore"
	"github.com/certhub/certhub/internal/httpapi"
	"github.com/certhub/certhub/internal/postgres"
	"github.com/certhub/certhub/internal/testenv"
	"github.com/certhub/certhub/signing"
)

// BenchmarkLookupAudit measures a department lookup by holder and type on
// PostgreSQL with 100,000 certificates, with the audit ledger recording
// every lookup and without it, in one run of alternating rounds:
//
//	eval "$(bash .ci/services start)"
//	go test ./internal/httpapi -run XXX -bench LookupAudit -benchtime 60000x
func BenchmarkLookupAudit(b *testing.B) {
	ctx := context.Background()
	store, err := postgres.Open(ctx, testenv.PostgresURL(b))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	docs, _ := filestore.Open(b.TempDir())
	master, _ := signing.GenerateMasterKey()
	keys, _ := signing.NewManager(store, map[string]signing.Backend{"local": signing.NewLocalBackend(master)}, "local", time.Now)
	loc, _ := time.LoadLocation("Asia/Shanghai")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	certs := &certificates.Service{Store: store, Documents: docs, Keys: keys, Vault: signing.NewVault(master), Now: time.Now, Location: loc, Log: log}
	if err := demo.Catalog(ctx, certs); err != nil {
		b.Fatal(err)
	}
	// 100,000 certificates of 20,000 people: rows only (a lookup reads no document).
	const people, perPerson = 20000, 5
	typeCode := demo.Resources + "001"
	active, err := store.ActiveKey(ctx, demo.Resources)
	if err != nil {
		b.Fatal(err)
	}
	var ids []string
	for p := 0; p < people; p += 1000 {
		var batch []*certificates.Certificate
		for i := p; i < p+1000; i++ {
			person := demo.NewPerson(rand.New(rand.NewPCG(9, uint64(i))), i)
			ids = append(ids, person.ID)
			for k := 0; k < perPerson; k++ {
				n := i*perPerson + k + 1
				ident := certificates.Identifier{TypeCode: typeCode, Issuer: demo.Resources, Serial: fmt.Sprintf("%07d", n), Version: 1}
				from, _ := certificates.ParseDate("2024-01-01")
				c := &certificates.Certificate{ID: ident.String(), Ident: ident, Type: typeCode, Authority: demo.Resources, Serial: ident.Serial,
					Version: 1, Holder: certificates.Holder{Kind: certificates.Person, ID: person.ID, Name: person.Name},
					Data: map[string]any{"certificate_no": fmt.Sprint(n), "area": 88.5}, ValidFrom: from, State: certificates.StateValid,
					DocumentKey: "none", DocumentSHA256: "none", KID: active.KID, IssuedAt: time.Now().UTC(), UpdatedAt: time.Now().UTC()}
				c.HolderIndex = certs.Vault.Index("person", person.ID)
				c.HolderSealed = certs.Vault.Seal("person", person.ID)
				batch = append(batch, c)
			}
		}
		if err := insertUnchecked(ctx, store, batch); err != nil {
			b.Fatal(err)
		}
	}
	// The consumer reads under an agreement, as every department does.
	reg := &exchange.Registry{Store: store, Tokens: store, Certs: certs, Now: time.Now}
	secret := benchConsumer(ctx, b, reg, typeCode)
	lk, _ := signing.NewLedgerKey(master, "bench/ledger")
	ledger := &exchange.Ledger{Store: store, Key: exchange.Keys{Signer: lk.Signer, Verifier: lk.Verifier}, Origin: "bench/ledger", Now: time.Now}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	// Rounds alternate without and with audit, so that both see the same
	// machine (a shared VM's speed drifts by a third within a minute); the
	// ratio of the medians is logged at the end.
	rates := map[string][]float64{}
	type variant struct {
		name   string
		ledger *exchange.Ledger
	}
	var plan []variant
	for range lookupRounds {
		plan = append(plan, variant{"without-audit", nil}, variant{"with-audit", ledger})
	}
	for i, tc := range plan {
		b.Run(fmt.Sprintf("round%d/%s", i/2+1, tc.name), func(b *testing.B) {
			api := &httpapi.Server{Certs: certs, Keys: keys, Tokens: store, Log: log, Ledger: tc.ledger, Consumers: reg}
			srv := httptest.NewServer(api.Handler())
			defer srv.Close()
			b.SetParallelism(16)
			start := time.Now()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
				for pb.Next() {
					req, _ := http.NewRequest("GET", srv.URL+"/api/v1/certificates?type="+typeCode+"&holder_id="+ids[r.IntN(len(ids))], nil)
					req.Header.Set("Authorization", "Bearer "+secret)
					req.Header.Set("X-Purpose", "bench")
					req.Header.Set("X-Case-Id", "bench-1")
					resp, err := client.Do(req)
					if err != nil {
						b.Fatal(err)
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Fatalf("status %d", resp.StatusCode)
					}
				}
			})
			rate := float64(b.N) / time.Since(start).Seconds()
			b.ReportMetric(rate, "req/s")
			if b.N > 1 {
				rates[tc.name] = append(rates[tc.name], rate)
			}
		})
	}
	if w, wo := median(rates["with-audit"]), median(rates["without-audit"]); wo > 0 {
		b.Logf("median with audit %.0f req/s, without %.0f req/s: %.0f %%", w, wo, 100*w/wo)
	}
}

// lookupRounds is how many times each variant runs in BenchmarkLookupAudit.
const lookupRounds = 4

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// benchConsumer registers a consumer with an active agreement over a type
// for purpose "bench" and returns its API key.
func benchConsumer(ctx context.Context, b *testing.B, reg *exchange.Registry, typ string) string {
	admin := &exchange.Principal{Role: exchange.RoleAdmin, TokenID: "bench"}
	if err := reg.CreatePurpose(ctx, admin, &exchange.Purpose{Code: "bench", Name: "benchmark", Kind: exchange.PurposeServiceItem}); err != nil && !errs.Is(err, errs.Conflict) {
		b.Fatal(err)
	}
	c := &exchange.Consumer{Name: "bench", USCC: demo.Resources}
	if err := reg.CreateConsumer(ctx, admin, c); err != nil {
		b.Fatal(err)
	}
	limit := exchange.MaxRatePerMinute
	today := reg.Certs.Today()
	a, err := reg.RequestAgreement(ctx, admin, &exchange.AgreementRequest{Consumer: c.ID, Purposes: []string{"bench"},
		Grants:    []exchange.Grant{{Type: typ, Fields: []string{"certificate_no", "area"}}},
		ValidFrom: today.String(), ValidUntil: today.AddDays(30).String(), RatePerMinute: &limit})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := reg.Decide(ctx, admin, a.ID, exchange.DecideApprove, ""); err != nil {
		b.Fatal(err)
	}
	_, secret, err := reg.CreateKey(ctx, admin, c.ID, "bench")
	if err != nil {
		b.Fatal(err)
	}
	return secret
}

// insertUnchecked stores rows through the store's batch path.
func insertUnchecked(ctx context.Context, s interface {
	InsertCertificates(context.Context, []*certificates.Certificate) error
}, cs []*certificates.Certificate) error {
	return s.InsertCertificates(ctx, cs)
}
