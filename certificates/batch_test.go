package certificates_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
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
