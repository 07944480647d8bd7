package web_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/hubtest"
)

// TestMaterialsPageAvoidable: the materials page counts two offices' cases
// with the same number as two, and shows the materials an agreement would
// have spared in their own column and total, outside the share avoided, in
// Chinese and English; the CSV download carries the column too.
func TestMaterialsPageAvoidable(t *testing.T) {
	t.Parallel()
	h := hubtest.New(t)
	ctx := context.Background()
	now := h.Clock.Now()
	it := &exchange.ServiceItem{Code: "SX-1", Name: "食品经营许可 新办", Department: "某局", CreatedAt: now, UpdatedAt: now,
		Materials: []exchange.Material{{Name: "申请书"}, {Name: "营业执照"}, {Name: "食品经营许可证"}, {Name: "场所证明"}}}
	if err := h.Store.PutItems(ctx, []*exchange.ServiceItem{it}); err != nil {
		t.Fatal(err)
	}
	day := h.Certs.Today().String()
	for _, r := range []exchange.Resolution{
		{Consumer: "csm_a", Avoided: 2},   // with agreements
		{Consumer: "csm_b", Avoidable: 2}, // the same case number at an office without one
	} {
		r.Item, r.CaseID, r.Department, r.Day, r.Required, r.At = "SX-1", "2026-0001", "某局", day, 4, now.UTC().Truncate(time.Microsecond)
		if err := h.Store.RecordResolution(ctx, &r); err != nil {
			t.Fatal(err)
		}
	}
	admin := newClient(t, h, false)
	if st, _, _ := admin.post("/admin/login", url.Values{"token": {h.Admin}}); st != 303 {
		t.Fatalf("sign-in: %d", st)
	}
	st, body, _ := admin.get("/admin/materials?period=year")
	for _, want := range []string{`<th scope="col">可通过共享协议免交</th>`, `<td class="num avoidable">2</td>`, `id="total-avoidable">2<`,
		`id="total-share">25.0%<`, `办件数 <strong>2</strong>`, `id="avoidable-help"`} {
		if st != 200 || !strings.Contains(body, want) {
			t.Fatalf("page lacks %s: %d\n%.3000s", want, st, body)
		}
	}
	if _, body, _ := admin.get("/admin/materials?period=year&lang=en"); !strings.Contains(body, `<th scope="col">Avoidable with an agreement</th>`) {
		t.Fatalf("English page:\n%.3000s", body)
	}
	st, csv, _ := admin.get("/admin/materials.csv?period=year")
	if st != 200 || !strings.Contains(csv, ",avoided_share,avoidable_with_agreement\n") || !strings.Contains(csv, ",2,8,2,25.0%,2\n") {
		t.Fatalf("csv: %d %q", st, csv)
	}
}
