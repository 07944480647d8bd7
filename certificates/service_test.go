package certificates_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/filestore"
	"github.com/certhub/certhub/internal/sqlite"
	"github.com/certhub/certhub/signing"
)

// failingInsert is the real SQLite store with InsertCertificate made to
// fail, as a crash between the object write and the row commit would.
type failingInsert struct {
	certificates.Store
	fail bool
}

func (f *failingInsert) InsertCertificate(ctx context.Context, c *certificates.Certificate, i *certificates.Idempotency) error {
	if f.fail {
		return errors.New("database went away")
	}
	return f.Store.InsertCertificate(ctx, c, i)
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

const (
	market = "11330100MB0000001R"
	other  = "11330100MB0000002W"
	permit = market + "001"
)

func newService(t testing.TB) (*certificates.Service, *failingInsert, *clock, string) {
	t.Helper()
	dir := t.TempDir()
	store, err := sqlite.Open(context.Background(), filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	docsDir := filepath.Join(dir, "docs")
	docs, _ := filestore.Open(docsDir)
	master, _ := signing.GenerateMasterKey()
	clk := &clock{t: time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)}
	keys, _ := signing.NewManager(store, map[string]signing.Backend{"local": signing.NewLocalBackend(master)}, "local", clk.Now)
	loc, _ := time.LoadLocation("Asia/Shanghai")
	fs := &failingInsert{Store: store}
	svc := &certificates.Service{Store: fs, Documents: docs, Keys: keys, Vault: signing.NewVault(master), Now: clk.Now, Location: loc}
	ctx := context.Background()
	for _, a := range []string{market, other} {
		if err := svc.CreateAuthority(ctx, &certificates.Authority{Code: a, Name: "局"}, "ES256"); err != nil {
			t.Fatal(err)
		}
	}
	days := 365
	if err := svc.CreateType(ctx, &certificates.Type{Code: permit, Name: "食品经营许可证", DefiningAuthority: market,
		HolderKind: certificates.Organisation, MaxValidityDays: &days,
		Fields: []certificates.Field{{Name: "address", Label: "经营场所", Type: certificates.FieldString, Required: true}}}); err != nil {
		t.Fatal(err)
	}
	return svc, fs, clk, docsDir
}

func request(from, until string) *certificates.IssueRequest {
	f, _ := certificates.ParseDate(from)
	u, _ := certificates.ParseDate(until)
	return &certificates.IssueRequest{Type: permit, Authority: market,
		Holder:    certificates.Holder{Kind: certificates.Organisation, ID: "91350100M000100Y43", Name: "某某餐饮有限公司"},
		Data:      map[string]any{"address": "人民路1号"},
		ValidFrom: f, ValidUntil: u}
}

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Base(filepath.Dir(p)) != ".tmp" {
			n++
		}
		return nil
	})
	return n
}

// A failure after the document is written but before the row commits
// leaves no visible certificate; the orphan object is unreachable, and a
// retry issues cleanly under a new serial.
func TestFailureBetweenStores(t *testing.T) {
	t.Parallel()
	svc, fs, _, docsDir := newService(t)
	ctx := context.Background()
	fs.fail = true
	if _, err := svc.Issue(ctx, certificates.Scope{}, request("2026-01-01", "2026-12-31"), nil); err == nil {
		t.Fatal("issuance succeeded with a failing database")
	}
	if n := countFiles(t, docsDir); n != 1 {
		t.Fatalf("orphan objects = %d, want 1", n)
	}
	found, _, err := svc.Find(ctx, certificates.Scope{}, certificates.FindRequest{HolderID: "91350100M000100Y43"})
	if err != nil || len(found) != 0 {
		t.Fatalf("a failed issuance is visible: %d, %v", len(found), err)
	}
	fs.fail = false
	res, err := svc.Issue(ctx, certificates.Scope{}, request("2026-01-01", "2026-12-31"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Certificate.Serial != "000002" {
		t.Fatalf("retry serial = %s, want 000002 (serials are never reused)", res.Certificate.Serial)
	}
	if v, err := svc.VerifyDocument(ctx, res.Document); err != nil || !v.Valid {
		t.Fatalf("retry does not verify: %+v %v", v, err)
	}
}

// Status follows the calendar in the hub's time zone: not yet valid, valid,
// expired; suspension does not hide expiry.
func TestStatusFollowsTheDate(t *testing.T) {
	t.Parallel()
	svc, _, clk, _ := newService(t)
	ctx := context.Background()
	res, err := svc.Issue(ctx, certificates.Scope{}, request("2026-07-01", "2026-12-31"), nil)
	if err != nil {
		t.Fatal(err)
	}
	doc := res.Document
	check := func(at time.Time, want ...string) {
		t.Helper()
		clk.Set(at)
		v, err := svc.VerifyDocument(ctx, doc)
		if err != nil {
			t.Fatal(err)
		}
		if len(v.Reasons) != len(want) || (len(want) > 0 && v.Reasons[0] != want[0]) {
			t.Fatalf("at %s: reasons %v, want %v", at, v.Reasons, want)
		}
	}
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	check(time.Date(2026, 6, 30, 23, 0, 0, 0, shanghai), certificates.ReasonNotYetValid)
	check(time.Date(2026, 7, 1, 0, 0, 1, 0, shanghai))
	check(time.Date(2026, 12, 31, 23, 59, 0, 0, shanghai))
	// 2026-12-31 16:30 UTC is already 2027-01-01 in Shanghai.
	check(time.Date(2026, 12, 31, 16, 30, 0, 0, time.UTC), certificates.ReasonExpired)

	clk.Set(time.Date(2026, 8, 1, 0, 0, 0, 0, shanghai))
	if _, err := svc.Lifecycle(ctx, certificates.Scope{}, res.Certificate.ID, certificates.Suspend, "整改"); err != nil {
		t.Fatal(err)
	}
	check(time.Date(2026, 9, 1, 0, 0, 0, 0, shanghai), certificates.ReasonSuspended)
	check(time.Date(2027, 2, 1, 0, 0, 0, 0, shanghai), certificates.ReasonExpired)
	found, _, _ := svc.Find(ctx, certificates.Scope{}, certificates.FindRequest{HolderID: "91350100M000100Y43", Status: "expired"})
	if len(found) != 1 {
		t.Fatalf("status=expired finds %d", len(found))
	}
}

// An issuer's scope is its authority, for every kind of change.
func TestIssuerScope(t *testing.T) {
	t.Parallel()
	svc, _, _, _ := newService(t)
	ctx := context.Background()
	mine := certificates.Scope{Authority: market}
	theirs := certificates.Scope{Authority: other}
	res, err := svc.Issue(ctx, mine, request("2026-01-01", "2026-12-31"), nil)
	if err != nil {
		t.Fatal(err)
	}
	id := res.Certificate.ID
	if _, err := svc.Issue(ctx, theirs, request("2026-01-01", "2026-12-31"), nil); !errs.Is(err, errs.Forbidden) {
		t.Fatalf("issue for another authority: %v", err)
	}
	if _, err := svc.Revise(ctx, theirs, id, &certificates.ReviseRequest{Data: map[string]any{"address": "x"}}); !errs.Is(err, errs.Forbidden) {
		t.Fatalf("revise another authority's: %v", err)
	}
	for _, act := range []certificates.Action{certificates.Suspend, certificates.Revoke} {
		if _, err := svc.Lifecycle(ctx, theirs, id, act, "r"); !errs.Is(err, errs.Forbidden) {
			t.Fatalf("%s another authority's: %v", act, err)
		}
	}
	found, _, _ := svc.Find(ctx, theirs, certificates.FindRequest{HolderID: "91350100M000100Y43"})
	if len(found) != 0 {
		t.Fatalf("another authority's issuer lists %d", len(found))
	}
	if c, _ := svc.Get(ctx, id); c.State != certificates.StateValid {
		t.Fatalf("refused actions changed the certificate: %s", c.State)
	}
}

// Concurrent retries with one Idempotency-Key issue exactly once.
func TestIdempotentRetriesRace(t *testing.T) {
	t.Parallel()
	svc, _, _, _ := newService(t)
	ctx := context.Background()
	key := &certificates.IdempotencyKey{Principal: "tok_1", Key: "k"}
	ids := make(chan string, 8)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := svc.Issue(ctx, certificates.Scope{}, request("2026-01-01", "2026-12-31"), key)
			if err != nil {
				t.Error(err)
				return
			}
			ids <- res.Certificate.ID
		}()
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		seen[id] = true
	}
	if len(seen) != 1 {
		t.Fatalf("8 retries issued %d certificates", len(seen))
	}
	found, _, _ := svc.Find(ctx, certificates.Scope{}, certificates.FindRequest{HolderID: "91350100M000100Y43"})
	if len(found) != 1 {
		t.Fatalf("store holds %d certificates", len(found))
	}
}
