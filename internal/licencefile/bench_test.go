package licencefile_test

import (
	"context"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/hubtest"
	"github.com/certhub/certhub/internal/licencefile"
)

// BenchmarkMakeFiles makes licence files of one certificate through the
// hub's Maker (template, seal picture, QR, sealing), PDF and OFD in turn,
// and reports the live heap after a GC at the start and at the end: flat
// memory means the two stay close however many files are made.
//
//	go test ./internal/licencefile -run XXX -bench MakeFiles -benchtime 10000x
func BenchmarkMakeFiles(b *testing.B) {
	h := hubtest.New(b)
	ctx := context.Background()
	post := func(path, body string) {
		req, _ := http.NewRequest("POST", h.Srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+h.Admin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 201 {
			b.Fatalf("POST %s: %v %v", path, err, resp.Status)
		}
		resp.Body.Close()
	}
	const market = "11330100MB0000001R"
	post("/api/v1/authorities", `{"code":"`+market+`","name":"杭州市市场监督管理局"}`)
	post("/api/v1/authorities/"+market+"/keys", `{"algorithm":"SM2"}`)
	post("/api/v1/types", `{"code":"`+market+`002","name":"食品经营许可证","defining_authority":"`+market+`","holder_kind":"organisation",
		"fields":[{"name":"permit_no","label":"许可证编号","type":"string","required":true},{"name":"address","label":"经营场所","type":"string","required":true}]}`)
	res, err := h.Certs.Issue(ctx, certificates.Scope{}, &certificates.IssueRequest{Type: market + "002", Authority: market,
		Holder: certificates.Holder{Kind: certificates.Organisation, ID: "91350100M000100Y43", Name: "福建某某餐饮有限公司"},
		Data:   map[string]any{"permit_no": "JY13301020000001", "address": "杭州市上城区延安路1号"}, ValidFrom: h.Certs.Today()}, nil)
	if err != nil {
		b.Fatal(err)
	}
	m := h.API.Files
	heap := func() float64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return float64(ms.HeapAlloc) / (1 << 20)
	}
	// Fonts load and caches fill on the first files.
	for _, f := range []licencefile.Format{licencefile.PDF, licencefile.OFD} {
		if _, err := m.Make(ctx, res.Certificate, f, licencefile.Options{}); err != nil {
			b.Fatal(err)
		}
	}
	start := heap()
	b.ResetTimer()
	for i := range b.N {
		f := licencefile.PDF
		if i%2 == 1 {
			f = licencefile.OFD
		}
		if _, err := m.Make(ctx, res.Certificate, f, licencefile.Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(start, "MiB-heap-start")
	b.ReportMetric(heap(), "MiB-heap-end")
}
