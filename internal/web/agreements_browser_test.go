package web_test

import (
	"context"
	"github.com/certhub/certhub/internal/testenv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/certhub/certhub/exchange"
)

// TestBrowserAgreementSuspension: an administrator suspends an active
// agreement from the page with a reason (the badge says 已暂停 and only
// resume and withdraw are offered), then resumes it; the ledger has both.
func TestBrowserAgreementSuspension(t *testing.T) {
	h, _ := demoHub(t)
	ctx := testenv.Browser(t, "")
	run(t, ctx,
		chromedp.Navigate(h.Srv.URL+"/admin/agreements"),
		chromedp.WaitVisible(chromedp.CSS(`#token`)),
		chromedp.SetValue(chromedp.CSS(`#token`), h.Admin),
		chromedp.Click(chromedp.CSS(`#admin-sign-in`)),
		chromedp.WaitVisible(chromedp.CSS(`#period`)),
		chromedp.Navigate(h.Srv.URL+"/admin/agreements"),
		chromedp.WaitVisible(chromedp.CSS(`#agreements`)),
	)
	id, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#agreements tbody tr[data-state="active"]').id`))
	if err != nil || id == "" {
		t.Fatalf("no active agreement on the page: %q %v", id, err)
	}
	row := `tr[id="` + id + `"]`
	run(t, ctx,
		chromedp.SetValue(chromedp.CSS(row+` input[name=reason]`), "立案调查"),
		chromedp.Click(chromedp.CSS(row+` button.suspend`)),
		chromedp.WaitVisible(chromedp.CSS(row+`[data-state="suspended"]`)),
	)
	if badge := text(t, ctx, row+` .badge`); badge != "已暂停" {
		t.Fatalf("suspended badge: %q", badge)
	}
	buttons, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('`+row+` button')].map(b => b.className)`))
	if err != nil || strings.Join(buttons, "|") != "resume|secondary withdraw" {
		t.Fatalf("buttons of a suspended agreement: %v %v", buttons, err)
	}
	testenv.Screenshot(t, ctx, "23b-admin-agreement-suspended")
	run(t, ctx,
		chromedp.SetValue(chromedp.CSS(row+` input[name=reason]`), "调查结束"),
		chromedp.Click(chromedp.CSS(row+` button.resume`)),
		chromedp.WaitVisible(chromedp.CSS(row+`[data-state="active"]`)),
	)
	a, err := h.Registry.Store.Agreement(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != exchange.AgreementApproved || a.Reason != "调查结束" {
		t.Fatalf("after resuming: %+v", a)
	}
	var steps []string
	_ = h.Ledger.Store.ScanAudit(context.Background(), 1, 0, func(r exchange.LedgerRecord) error {
		if s := string(r.Body); strings.Contains(s, id) && (strings.Contains(s, "agreement_suspend") || strings.Contains(s, "agreement_resume")) {
			steps = append(steps, s)
		}
		return nil
	})
	if len(steps) != 2 || !strings.Contains(steps[0], "立案调查") || !strings.Contains(steps[1], "调查结束") {
		t.Fatalf("ledger: %v", steps)
	}
}
