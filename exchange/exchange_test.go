package exchange_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
)

func TestWebhookGuard(t *testing.T) {
	t.Parallel()
	g := &exchange.WebhookGuard{HubURL: "https://certhub.example.gov.cn",
		Resolve: func(_ context.Context, host string) ([]netip.Addr, error) {
			return map[string][]netip.Addr{
				"rebind.example": {netip.MustParseAddr("10.0.0.8"), netip.MustParseAddr("127.0.0.1")},
				"ok.example":     {netip.MustParseAddr("10.0.0.8")},
			}[host], nil
		}}
	for url, ok := range map[string]bool{
		"https://ok.example/hook":                  true,
		"http://10.1.2.3:8080/x":                   true,
		"https://rebind.example/hook":              false, // one of its addresses is loopback
		"http://[::ffff:127.0.0.1]/x":              false, // loopback in IPv6 clothing
		"http://169.254.169.254/latest":            false,
		"http://[fe80::1]/x":                       false,
		"http://0.0.0.0/x":                         false,
		"https://certhub.example.gov.cn/api/v1/x":  false, // the hub itself
		"https://CERTHUB.example.gov.cn:443/x":     false,
		"ftp://ok.example/x":                       false,
		"https://user:pass@ok.example/x":           false,
		"https://certhub.example.gov.cn:8443/hook": false, // resolves to nothing here
	} {
		err := g.CheckURL(context.Background(), url)
		if (err == nil) != ok {
			t.Errorf("%s: %v, want ok=%v", url, err, ok)
		}
		if err != nil && errs.CodeOf(err) != errs.Invalid {
			t.Errorf("%s: code %s", url, errs.CodeOf(err))
		}
	}
	g.Allow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	if err := g.CheckAddr(netip.MustParseAddr("127.0.0.1")); err != nil {
		t.Fatalf("allowed loopback refused: %v", err)
	}
	if err := g.CheckAddr(netip.MustParseAddr("169.254.169.254")); err == nil {
		t.Fatal("link-local allowed by a loopback prefix")
	}
}

func TestCatchAllAndAccepts(t *testing.T) {
	t.Parallel()
	items := []*exchange.ServiceItem{{Code: "A", Name: "事项", Department: "某局", Materials: []exchange.Material{
		{Name: "其他有关材料", LegalBasis: "x"}, {Name: "公安机关认为需要提供的其他材料", LegalBasis: "x"},
		{Name: "申请书等材料", LegalBasis: "x"}, {Name: "营业执照复印件", LegalBasis: "x"}, {Name: "无依据的材料"},
	}}}
	if err := exchange.ValidateItems(context.Background(), nil, nil, nil, items); err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"catch_all"}, {"catch_all"}, {"catch_all"}, nil, {"no_legal_basis"}}
	for i, m := range items[0].Materials {
		if len(m.Flags) != len(want[i]) || (len(want[i]) > 0 && m.Flags[0] != want[i][0]) {
			t.Errorf("%s: flags %v, want %v", m.Name, m.Flags, want[i])
		}
	}
	m := exchange.Material{Statuses: []string{"valid", "suspended"}}
	if !m.Accepts(certificates.StatusSuspended) || m.Accepts(certificates.StatusExpired) {
		t.Fatal("statuses not honoured")
	}
	if !(&exchange.Material{}).Accepts(certificates.StatusValid) || (&exchange.Material{}).Accepts(certificates.StatusSuspended) {
		t.Fatal("the default is valid only")
	}
}

func TestParseItemsRefusesUnknownSettings(t *testing.T) {
	t.Parallel()
	_, err := exchange.ParseItems("c.json", []byte(`[{"code":"A","name":"x","department":"y","materials":[{"name":"m","colour":"red"}]}]`))
	var e *errs.Error
	if err == nil || !errors.As(err, &e) || e.Field != "colour" {
		t.Fatalf("unknown setting: %v", err)
	}
	if _, err := exchange.ParseItems("c.csv", []byte("a,b\n1,2\n")); err == nil {
		t.Fatal("a CSV without the layout's columns was read")
	}
}
