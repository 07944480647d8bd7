package certificates_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"path/filepath"
	"testing"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/exchange/federation"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/filestore"
	"github.com/certhub/certhub/internal/s3store"
	"github.com/certhub/certhub/internal/sqlite"
	"github.com/certhub/certhub/internal/sqlstore"
	"github.com/certhub/certhub/internal/testenv"
	"github.com/certhub/certhub/signing"
)

// objectStore is a document store the sweep can list.
type objectStore interface {
	certificates.DocumentStore
	certificates.ObjectLister
}

// deleteHook runs a function before an object's deletion: a writer that
// commits its row while the sweep deletes.
type deleteHook struct {
	objectStore
	before func(key string)
}

func (d *deleteHook) Delete(ctx context.Context, key string) error {
	if d.before != nil {
		d.before(key)
	}
	return d.objectStore.Delete(ctx, key)
}

func TestOrphanSweepDirectory(t *testing.T) {
	t.Parallel()
	docs, err := filestore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	orphanSweepJourney(t, docs)
}

func TestOrphanSweepS3(t *testing.T) {
	t.Parallel()
	srv := testenv.S3Server(t)
	docs, err := s3store.Open(context.Background(), s3store.Config{Endpoint: srv.Endpoint, AccessKey: srv.AccessKey,
		SecretKey: srv.SecretKey, Bucket: testenv.RandomName("t-")})
	if err != nil {
		t.Fatal(err)
	}
	orphanSweepJourney(t, docs)
}

func sealPNG(t *testing.T, shade uint8) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 120, 120))
	for i := 0; i < 120; i++ {
		img.Set(i, i, color.NRGBA{R: shade, A: 255})
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// orphanSweepJourney makes objects of every kind a row references (an
// issued document, a bulk batch, a revision, a federated push's batch, a
// seal picture) and two orphans (a crash between the object write and the
// row commit, and a replaced seal picture). The object store cannot be
// given old modification times (S3 sets Last-Modified itself), so the
// sweep's clock moves instead: at the real time everything is young and
// nothing is touched; two days on, only the orphans go, and every
// certificate still verifies. A federated batch that an orphan-looking
// object turns into while the sweep deletes it (its push committing in
// between) is written back.
func orphanSweepJourney(t *testing.T, docs objectStore) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	master, _ := signing.GenerateMasterKey()
	keys, _ := signing.NewManager(store, map[string]signing.Backend{"local": signing.NewLocalBackend(master)}, "local", time.Now)
	loc, _ := time.LoadLocation("Asia/Shanghai")
	crashing := &failingInsert{Store: store}
	svc := &certificates.Service{Store: crashing, Documents: docs, Keys: keys, Vault: signing.NewVault(master), Now: time.Now, Location: loc}
	if err := svc.CreateAuthority(ctx, &certificates.Authority{Code: market, Name: "局"}, "ES256"); err != nil {
		t.Fatal(err)
	}
	if err := svc.CreateType(ctx, &certificates.Type{Code: permit, Name: "食品经营许可证", DefiningAuthority: market,
		HolderKind: certificates.Organisation,
		Fields:     []certificates.Field{{Name: "address", Label: "经营场所", Type: certificates.FieldString, Required: true}}}); err != nil {
		t.Fatal(err)
	}
	sc := certificates.Scope{}
	issued, err := svc.Issue(ctx, sc, request("2026-01-01", "2026-12-31"), nil)
	if err != nil {
		t.Fatal(err)
	}
	bulk, err := svc.IssueBatch(ctx, sc, []*certificates.IssueRequest{request("2026-01-01", "2026-12-31"), request("2026-02-01", "2026-12-31")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Revise(ctx, sc, bulk[1].Certificate.ID, &certificates.ReviseRequest{Data: map[string]any{"address": "解放路1号"}, Reason: "变更"}); err != nil {
		t.Fatal(err)
	}
	crashing.fail = true
	if _, err := svc.Issue(ctx, sc, request("2026-03-01", "2026-12-31"), nil); err == nil {
		t.Fatal("issuance succeeded with a failing database")
	}
	crashing.fail = false
	old, err := svc.SetSealImage(ctx, market, sealPNG(t, 200))
	if err != nil {
		t.Fatal(err)
	}
	seal, err := svc.SetSealImage(ctx, market, sealPNG(t, 100))
	if err != nil {
		t.Fatal(err)
	}
	// A child's push: its batch object, then its row.
	fedKey := "federated/330102/batches/0a1b.jwsl"
	if err := docs.Put(ctx, fedKey, []byte("{}\n")); err != nil {
		t.Fatal(err)
	}
	applyPush(t, store, "000001", fedKey)
	// A second push whose batch was written, but whose row commits only
	// while the sweep deletes the object.
	lateKey := "federated/330102/batches/2c3d.jwsl"
	if err := docs.Put(ctx, lateKey, []byte("[]\n")); err != nil {
		t.Fatal(err)
	}

	var all []certificates.ObjectInfo
	if err := docs.List(ctx, "", func(o certificates.ObjectInfo) error { all = append(all, o); return nil }); err != nil {
		t.Fatal(err)
	}
	refs, err := store.ReferencedKeys(ctx, keysOf(all))
	if err != nil {
		t.Fatal(err)
	}
	var crashOrphan string
	for _, o := range all {
		if !refs[o.Key] && o.Key != old.Key && o.Key != lateKey {
			if crashOrphan != "" {
				t.Fatalf("two unexplained orphans: %s, %s", crashOrphan, o.Key)
			}
			crashOrphan = o.Key
		}
	}
	if crashOrphan == "" || len(all) != 8 {
		t.Fatalf("objects %v; want 8 with one left by the crash", keysOf(all))
	}

	hooked := &deleteHook{objectStore: docs}
	var found []string
	sweep := func(at time.Time, page int) *certificates.SweepReport {
		t.Helper()
		found = nil
		w := &certificates.OrphanSweep{Store: store, Objects: hooked, Documents: docs, Owner: "test", PageSize: page,
			Now: func() time.Time { return at }, OnOrphan: func(o certificates.ObjectInfo, _ time.Duration) { found = append(found, o.Key) }}
		rep, ok, err := w.Run(ctx)
		if err != nil || !ok {
			t.Fatalf("sweep: %v, lease %v", err, ok)
		}
		return rep
	}
	if rep := sweep(time.Now(), 3); rep.Orphans != 0 || rep.Young != 3 || rep.Listed != 8 {
		t.Fatalf("young objects swept: %+v %v", rep, found)
	}
	hooked.before = func(key string) {
		if key == lateKey {
			applyPush(t, store, "000002", lateKey)
		}
	}
	rep := sweep(time.Now().Add(48*time.Hour), 3)
	if rep.Orphans != 2 || rep.Restored != 1 || rep.Young != 0 || len(found) != 3 {
		t.Fatalf("sweep two days on: %+v %v", rep, found)
	}
	for _, k := range []string{crashOrphan, old.Key} {
		if _, err := docs.Get(ctx, k); !errs.Is(err, errs.NotFound) {
			t.Errorf("orphan %s not swept: %v", k, err)
		}
	}
	for _, k := range []string{seal.Key, fedKey, lateKey} {
		if _, err := docs.Get(ctx, k); err != nil {
			t.Errorf("referenced %s: %v", k, err)
		}
	}
	sum, err := svc.CheckDocuments(ctx, false, func(f certificates.DocumentFinding) error {
		t.Errorf("after the sweep: %s: %s", f.Ref.ID, f.Problem)
		return nil
	})
	if err != nil || sum.Checked != 4 || sum.Broken != 0 {
		t.Fatalf("CheckDocuments = %+v, %v", sum, err)
	}
	for _, id := range []string{issued.Certificate.ID, bulk[0].Certificate.ID, bulk[1].Certificate.ID} {
		c, doc, err := svc.Document(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if s := sha256.Sum256(doc); hex.EncodeToString(s[:]) != c.DocumentSHA256 {
			t.Errorf("%s does not hash to its recorded SHA-256", id)
		}
		if v, err := svc.VerifyDocument(ctx, doc); err != nil || v.Certificate == nil || v.Certificate.ID != id {
			t.Errorf("%s does not verify after the sweep: %+v %v", id, v, err)
		}
	}
	if _, got, err := svc.SealImage(ctx, market); err != nil || !bytes.Equal(got, sealPNG(t, 100)) {
		t.Errorf("seal picture after the sweep: %v", err)
	}
	// Nothing left to sweep; a dry run finds nothing either.
	if rep := sweep(time.Now().Add(48*time.Hour), 1000); rep.Orphans != 0 || rep.Listed != 6 {
		t.Fatalf("second sweep: %+v %v", rep, found)
	}
	// With Every, a run soon after a finished sweep is skipped, and one
	// later is not.
	every := func(at time.Time) (*certificates.SweepReport, bool) {
		t.Helper()
		w := &certificates.OrphanSweep{Store: store, Objects: docs, Documents: docs, Owner: "replica", Every: time.Hour,
			Now: func() time.Time { return at }}
		rep, ok, err := w.Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return rep, ok
	}
	if rep, ok := every(time.Now().Add(48*time.Hour + time.Minute)); ok || rep != nil {
		t.Fatalf("a sweep a minute after the last one ran: %+v", rep)
	}
	if rep, ok := every(time.Now().Add(48*time.Hour + 2*time.Hour)); !ok || rep.Listed != 6 {
		t.Fatalf("a sweep two hours after the last one: %+v %v", rep, ok)
	}
	// A sweep hands its lease back when done; while another process
	// holds it, a sweep is refused, and a dry run is not.
	later := time.Now().Add(51 * time.Hour)
	if last, ok, err := store.LeaseOrphanSweep(ctx, "holder", later, later.Add(time.Minute)); err != nil || !ok || last.IsZero() {
		t.Fatalf("the lease was not handed back, or the finished sweep not recorded: %v %v %v", ok, last, err)
	}
	w := &certificates.OrphanSweep{Store: store, Objects: docs, Documents: docs, Owner: "other", Now: func() time.Time { return later }}
	if _, ok, err := w.Run(ctx); ok || err != nil {
		t.Fatalf("a second owner swept while the lease ran: %v %v", ok, err)
	}
	w.DryRun = true
	if rep, ok, err := w.Run(ctx); !ok || err != nil || rep.Orphans != 0 || rep.Listed != 6 {
		t.Fatalf("a dry run under another's lease: %+v %v %v", rep, ok, err)
	}
}

func applyPush(t *testing.T, s *sqlstore.Store, serial, key string) {
	t.Helper()
	const auth = "11330102MB0000002A"
	id := certificates.Identifier{TypeCode: auth + "002", Issuer: auth, Serial: serial, Version: 1}
	from, _ := certificates.ParseDate("2026-01-01")
	now := time.Now().UTC()
	e := exchange.Event{ID: "evt_" + serial, Kind: exchange.EventIssued, CertificateID: id.String(), Lineage: id.Lineage(), Type: id.TypeCode,
		Authority: auth, Version: 1, At: now, HomeHub: "330102"}
	var seq int64 // the child's outbox seq: one push per serial
	if _, err := fmt.Sscan(serial, &seq); err != nil {
		t.Fatal(err)
	}
	ch := federation.Change{Seq: seq, Event: e, Version: &federation.Version{ID: id.String(), HomeHub: "330102", Lineage: id.Lineage(),
		Type: id.TypeCode, Authority: auth, Version: 1, HolderKind: certificates.Organisation, HolderIndex: "hx", HolderSealed: []byte("s"),
		HolderName: "某某公司", ValidFrom: from, State: certificates.StateValid, DocumentKey: key, DocumentLength: 3,
		DocumentSHA256: "ab", KID: "kid-c", IssuedAt: now, UpdatedAt: now}}
	if _, _, err := s.ApplyPush(context.Background(), "330102", seq-1, []federation.Change{ch}, nil, now); err != nil {
		t.Fatal(err)
	}
}

func keysOf(os []certificates.ObjectInfo) []string {
	out := make([]string, len(os))
	for i, o := range os {
		out[i] = o.Key
	}
	return out
}
