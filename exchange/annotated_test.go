package exchange_test

import (
	"strings"
	"testing"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
)

// TestAnnotationRequest: the purpose is one line of at most 100
// characters, the expiry a date from today to 90 days after it; every
// problem names its field.
func TestAnnotationRequest(t *testing.T) {
	t.Parallel()
	today, _ := certificates.ParseDate("2026-12-02")
	for _, tc := range []struct {
		name, purpose, expires string
		bad                    []string
	}{
		{"today", "办理银行开户", "2026-12-02", nil},
		{"90 days", " 办理银行开户 ", "2027-03-02", nil},
		{"91 days", "办理银行开户", "2027-03-03", []string{"expires_at"}},
		{"yesterday", "办理银行开户", "2026-12-01", []string{"expires_at"}},
		{"100 characters", strings.Repeat("办", 100), "2026-12-03", nil},
		{"101 characters", strings.Repeat("办", 101), "2026-12-03", []string{"purpose"}},
		{"tab", "办理\t开户", "2026-12-03", []string{"purpose"}},
		{"both wrong", "", "tomorrow", []string{"purpose", "expires_at"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := exchange.AnnotationRequest{Purpose: tc.purpose, ExpiresAt: tc.expires}
			d, err := r.Validate(today)
			var got []string
			if e, ok := err.(*errs.Error); ok {
				for _, f := range e.Fields {
					got = append(got, f.Field)
				}
				if len(e.Fields) == 0 {
					got = append(got, e.Field)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.bad, ",") {
				t.Fatalf("fields %v (%v), want %v", got, err, tc.bad)
			}
			if err == nil && (d.String() != tc.expires || r.Purpose != strings.TrimSpace(tc.purpose)) {
				t.Fatalf("date %s purpose %q", d, r.Purpose)
			}
		})
	}
}

// TestAnnotationStatus: usable through its last day, expired the day
// after; revoked wins; the watermark names purpose and date.
func TestAnnotationStatus(t *testing.T) {
	t.Parallel()
	last, _ := certificates.ParseDate("2027-01-05")
	a := &exchange.Annotation{Purpose: "办理银行开户", ExpiresOn: last}
	if got := a.Watermark(); got != "仅用于办理银行开户，有效期至2027年01月05日" {
		t.Fatalf("watermark %q", got)
	}
	if a.Status(last) != "" || a.Status(last.AddDays(1)) != exchange.AnnotationExpired {
		t.Fatalf("status on %s: %q, the day after: %q", last, a.Status(last), a.Status(last.AddDays(1)))
	}
	now := time.Now()
	a.RevokedAt = &now
	if a.Status(last.AddDays(-10)) != exchange.AnnotationRevoked || a.Status(last.AddDays(1)) != exchange.AnnotationRevoked {
		t.Fatal("a revoked copy is not revoked")
	}
}
