package certificates_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certhub/certhub/certificates"
)

// TestRevisionOfBatchMemberReadsBack is the regression test of issue 10
// item 1: a certificate first issued through the bulk path (its document a
// byte range of a batch object) and then revised must have a readable v2
// document. The revision used to inherit v1's offset and length while its
// document was a standalone object, so reading it failed with EOF or read
// the wrong bytes.
func TestRevisionOfBatchMemberReadsBack(t *testing.T) {
	t.Parallel()
	svc, _, _, _ := newService(t)
	ctx := context.Background()
	var reqs []*certificates.IssueRequest
	for i := range 3 {
		r := request("2026-01-01", "2026-12-31")
		r.Data = map[string]any{"address": fmt.Sprintf("人民路%d号", i+1)}
		reqs = append(reqs, r)
	}
	res, err := svc.IssueBatch(ctx, certificates.Scope{}, reqs)
	if err != nil {
		t.Fatal(err)
	}
	// The last member of the batch: its range lies furthest into the batch
	// object, well beyond the end of any standalone document.
	v1 := res[2].Certificate
	if v1 == nil || v1.DocumentLength == 0 || v1.DocumentOffset == 0 || !strings.HasPrefix(v1.DocumentKey, "batches/") {
		t.Fatalf("bulk issuance did not locate the document in a batch object: %+v", v1)
	}
	rev, err := svc.Revise(ctx, certificates.Scope{}, v1.ID, &certificates.ReviseRequest{
		Data: map[string]any{"address": "解放路9号"}, Reason: "经营场所变更"})
	if err != nil {
		t.Fatal(err)
	}
	v2 := rev.Certificate
	if v2.DocumentOffset != 0 || v2.DocumentLength != 0 {
		t.Errorf("revision returned with the batch member's range %d+%d on standalone object %s",
			v2.DocumentOffset, v2.DocumentLength, v2.DocumentKey)
	}
	// Read back from the stores, not from what Revise returned.
	for _, id := range []string{v1.ID, v2.ID} {
		c, doc, err := svc.Document(ctx, id)
		if err != nil {
			t.Fatalf("document of %s: %v", id, err)
		}
		if sum := sha256.Sum256(doc); hex.EncodeToString(sum[:]) != c.DocumentSHA256 {
			t.Fatalf("document of %s does not hash to its recorded SHA-256", id)
		}
	}
	_, doc2, _ := svc.Document(ctx, v2.ID)
	if string(doc2) != string(rev.Document) {
		t.Fatal("v2's stored document differs from the one the revision returned")
	}
	// A lifecycle change of the revised version keeps it readable, and so
	// does a revision of the revision.
	if _, err := svc.Lifecycle(ctx, certificates.Scope{}, v2.ID, certificates.Suspend, "停业整顿"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Document(ctx, v2.ID); err != nil {
		t.Fatalf("document of suspended %s: %v", v2.ID, err)
	}
	rev3, err := svc.Revise(ctx, certificates.Scope{}, v2.ID, &certificates.ReviseRequest{Data: map[string]any{"address": "解放路10号"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Document(ctx, rev3.Certificate.ID); err != nil {
		t.Fatalf("document of %s: %v", rev3.Certificate.ID, err)
	}
}

// TestCheckDocumentsRepairsInheritedRanges recreates the rows the bug left
// behind (a revision carrying its batch member's range), and rows no
// repair can help (an object replaced, an object gone). A dry run reports
// without writing; a repair points the first at its whole object, which
// then reads back, and leaves the others alone; a second run finds only
// those.
func TestCheckDocumentsRepairsInheritedRanges(t *testing.T) {
	t.Parallel()
	svc, _, _, docsDir := newService(t)
	ctx := context.Background()
	var reqs []*certificates.IssueRequest
	for i := range 4 {
		r := request("2026-01-01", "2026-12-31")
		r.Data = map[string]any{"address": fmt.Sprintf("人民路%d号", i+1)}
		reqs = append(reqs, r)
	}
	res, err := svc.IssueBatch(ctx, certificates.Scope{}, reqs)
	if err != nil {
		t.Fatal(err)
	}
	revise := func(c *certificates.Certificate) *certificates.Certificate {
		t.Helper()
		rev, err := svc.Revise(ctx, certificates.Scope{}, c.ID, &certificates.ReviseRequest{Data: map[string]any{"address": "解放路9号"}})
		if err != nil {
			t.Fatal(err)
		}
		return rev.Certificate
	}
	// The bug's row: v2 with v1's range on its standalone object.
	v1 := res[3].Certificate
	v2 := revise(v1)
	bad := certificates.DocumentRef{ID: v2.ID, Key: v2.DocumentKey, Offset: v1.DocumentOffset, Length: v1.DocumentLength, SHA256: v2.DocumentSHA256}
	if err := svc.Store.SetDocumentLocation(ctx, bad); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Document(ctx, v2.ID); err == nil {
		t.Fatal("the recreated bad row reads back; the test proves nothing")
	}
	// Unrepairable: a standalone object replaced, and one removed.
	replaced, gone := revise(res[1].Certificate), revise(res[2].Certificate)
	if err := os.WriteFile(filepath.Join(docsDir, replaced.DocumentKey), []byte("not the document"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(docsDir, gone.DocumentKey)); err != nil {
		t.Fatal(err)
	}

	run := func(repair bool) (certificates.DocumentCheck, map[string]certificates.DocumentFinding) {
		t.Helper()
		got := map[string]certificates.DocumentFinding{}
		sum, err := svc.CheckDocuments(ctx, repair, func(f certificates.DocumentFinding) error {
			got[f.Ref.ID] = f
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return sum, got
	}
	want := certificates.DocumentCheck{Checked: 7, Broken: 3, Unrepairable: 2}
	sum, got := run(false)
	if sum != want || len(got) != 3 {
		t.Fatalf("dry run: %+v %v, want %+v", sum, got, want)
	}
	if f := got[v2.ID]; f.Fix == nil || f.Fixed || f.Fix.Offset != 0 || f.Fix.Length != 0 || f.Fix.Key != v2.DocumentKey ||
		!strings.Contains(f.Problem, "beyond the end") {
		t.Fatalf("dry run, the bug's row: %+v", f)
	}
	if _, _, err := svc.Document(ctx, v2.ID); err == nil {
		t.Fatal("a dry run repaired the row")
	}
	for _, c := range []*certificates.Certificate{replaced, gone} {
		if f := got[c.ID]; f.Fix != nil {
			t.Fatalf("%s would be pointed at bytes that are not its document: %+v", c.ID, f)
		}
	}
	if !strings.Contains(got[gone.ID].Problem, "missing") || !strings.Contains(got[replaced.ID].Problem, "SHA-256") {
		t.Fatalf("problems: %q, %q", got[gone.ID].Problem, got[replaced.ID].Problem)
	}

	want.Fixed = 1
	if sum, got = run(true); sum != want || !got[v2.ID].Fixed {
		t.Fatalf("repair: %+v %+v", sum, got[v2.ID])
	}
	c, doc, err := svc.Document(ctx, v2.ID)
	if err != nil {
		t.Fatalf("after the repair: %v", err)
	}
	if sha := sha256.Sum256(doc); hex.EncodeToString(sha[:]) != c.DocumentSHA256 || c.DocumentOffset != 0 || c.DocumentLength != 0 {
		t.Fatalf("after the repair: %+v", c)
	}
	if sum, got = run(true); sum != (certificates.DocumentCheck{Checked: 7, Broken: 2, Unrepairable: 2}) || len(got) != 2 {
		t.Fatalf("second repair: %+v %v", sum, got)
	}
}

// TestCheckDocumentsFindsMovedBatchMember: a batch member whose range was
// damaged is found again as its line of the batch object.
func TestCheckDocumentsFindsMovedBatchMember(t *testing.T) {
	t.Parallel()
	svc, _, _, _ := newService(t)
	ctx := context.Background()
	res, err := svc.IssueBatch(ctx, certificates.Scope{}, []*certificates.IssueRequest{
		request("2026-01-01", "2026-12-31"), request("2026-02-01", "2026-12-31"), request("2026-03-01", "2026-12-31")})
	if err != nil {
		t.Fatal(err)
	}
	a, b := res[0].Certificate, res[1].Certificate
	moved := certificates.DocumentRef{ID: b.ID, Key: b.DocumentKey, Offset: a.DocumentOffset, Length: a.DocumentLength, SHA256: b.DocumentSHA256}
	if err := svc.Store.SetDocumentLocation(ctx, moved); err != nil {
		t.Fatal(err)
	}
	var fix *certificates.DocumentRef
	sum, err := svc.CheckDocuments(ctx, true, func(f certificates.DocumentFinding) error { fix = f.Fix; return nil })
	if err != nil || sum.Fixed != 1 || fix == nil || fix.Offset != b.DocumentOffset || fix.Length != b.DocumentLength {
		t.Fatalf("repair: %+v %+v %v; want %d+%d", sum, fix, err, b.DocumentOffset, b.DocumentLength)
	}
	if _, _, err := svc.Document(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkPrepareBatch is the bulk path's work before its commit, for a
// batch of 2,000 (a connector's default): validation, serials, seals and
// the batch object (SQLite and a local directory here). ns/op is per batch.
func BenchmarkPrepareBatch(b *testing.B) {
	svc, _, _, _ := newService(b)
	ctx := context.Background()
	reqs := make([]*certificates.IssueRequest, 2000)
	for i := range reqs {
		reqs[i] = request("2026-01-01", "2026-12-31")
		reqs[i].Data = map[string]any{"address": fmt.Sprintf("人民路%d号", i+1)}
	}
	b.ReportAllocs()
	for b.Loop() {
		p, err := svc.PrepareBatch(ctx, certificates.Scope{}, reqs)
		if err != nil || p.Len() != len(reqs) {
			b.Fatal(p.Len(), err)
		}
	}
}
