package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/sqlstore"
)

// testAnnotations: annotated copies read back exactly (the civil expiry
// date included), list per holder newest first, revoke only by their
// holder and only once (the first time stays), and an unknown id is not
// found.
func testAnnotations(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	SeedCatalog(t, s)
	c := NewCert("000001", 1, "alice")
	must(t, s.InsertCertificate(ctx, c, nil))
	exp, _ := certificates.ParseDate("2026-05-30")
	mk := func(id string, created time.Time, requester string) *exchange.Annotation {
		return &exchange.Annotation{ID: id, CertificateID: c.ID, HolderIndex: "alice", Requester: requester, Purpose: "办理银行开户",
			ExpiresOn: exp, CreatedAt: created}
	}
	must(t, s.CreateAnnotation(ctx, mk("ann_1", t0, exchange.RequesterHolder)))
	second := mk("ann_2", t0.Add(time.Minute), "consumer:csm_1")
	second.Agreement, second.CaseID = "agr_1", "2026-F-7"
	must(t, s.CreateAnnotation(ctx, second))
	mustCode(t, errs.Conflict, s.CreateAnnotation(ctx, mk("ann_1", t0, exchange.RequesterHolder)))

	got, err := s.GetAnnotation(ctx, "ann_2")
	must(t, err)
	if got.CertificateID != c.ID || got.HolderIndex != "alice" || got.Requester != "consumer:csm_1" || got.Agreement != "agr_1" ||
		got.CaseID != "2026-F-7" || got.Purpose != "办理银行开户" || got.ExpiresOn != exp || !got.CreatedAt.Equal(t0.Add(time.Minute)) || got.RevokedAt != nil {
		t.Fatalf("GetAnnotation = %+v", got)
	}
	_, err = s.GetAnnotation(ctx, "ann_none")
	mustCode(t, errs.NotFound, err)

	list, err := s.ListAnnotations(ctx, "alice")
	must(t, err)
	if len(list) != 2 || list[0].ID != "ann_2" || list[1].ID != "ann_1" {
		t.Fatalf("ListAnnotations = %+v", list)
	}
	if l, _ := s.ListAnnotations(ctx, "bob"); len(l) != 0 {
		t.Fatal("bob sees alice's annotated copies")
	}

	mustCode(t, errs.NotFound, s.RevokeAnnotation(ctx, "ann_1", "bob", t0))
	mustCode(t, errs.NotFound, s.RevokeAnnotation(ctx, "ann_none", "alice", t0))
	must(t, s.RevokeAnnotation(ctx, "ann_1", "alice", t0.Add(time.Hour)))
	must(t, s.RevokeAnnotation(ctx, "ann_1", "alice", t0.Add(2*time.Hour)))
	got, err = s.GetAnnotation(ctx, "ann_1")
	must(t, err)
	if got.RevokedAt == nil || !got.RevokedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("revoked_at = %v, want the first revocation %v", got.RevokedAt, t0.Add(time.Hour))
	}
	if got.Status(exp) != exchange.AnnotationRevoked {
		t.Fatalf("status = %q", got.Status(exp))
	}
	if got, _ := s.GetAnnotation(ctx, "ann_2"); got.RevokedAt != nil {
		t.Fatal("revoking one copy revoked another")
	}
}
