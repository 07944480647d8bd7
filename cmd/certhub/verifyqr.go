package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"io/fs"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/certhub/certhub/internal/qr"
	"github.com/certhub/certhub/internal/verifyqr"
)

// VerifyQRCmd checks a compact signed QR offline (issue 13,
// docs/verify-qr.md): no store, no network, only the files a verifier
// cached from the hub.
type VerifyQRCmd struct {
	Text         string   `arg:"" optional:"" help:"The QR's text (CH1:…); - reads it from standard input."`
	Image        string   `type:"path" placeholder:"FILE" help:"Read the QR from a PNG, JPEG, GIF or WebP image instead."`
	TrustList    string   `required:"" type:"path" placeholder:"FILE" help:"The trust list (GET /.well-known/certhub-trust-list)."`
	StatusList   []string `required:"" type:"path" sep:"none" placeholder:"FILE" help:"A Token Status List (GET /status/tsl/{n}); repeat for several."`
	HubKey       string   `required:"" type:"path" placeholder:"FILE" help:"The hub's public key as a JWK (its entry in /.well-known/jwks.json)."`
	LicenceTypes string   `type:"path" placeholder:"FILE" help:"The licence type catalogue (GET /.well-known/certhub-licence-types), to show shared fields by name; without it they show by number."`
	Now          string   `placeholder:"RFC3339" help:"Check as of this RFC 3339 instant instead of now (reproducible checks)."`
	JSON         bool     `help:"Print the report as JSON."`
}

// unreadableFile: a file named on the command line cannot be read (missing,
// unreadable, too large). It is a verdict like the others, exit 1, so a
// script whose cron fetch failed learns "not valid" and why.
const unreadableFile verifyqr.Reason = "unreadable_file"

// Bounds for files read: a trust list of thousands of keys with
// certificates and a status list of millions of entries fit easily; an
// image is a photo at most.
const (
	maxListFile   = 16 << 20
	maxImageFile  = 32 << 20
	maxImagePixel = 50_000_000
)

// Run verifies and prints the report; exit 1 with the reason unless valid.
func (c *VerifyQRCmd) Run() error {
	now := time.Now()
	if c.Now != "" {
		t, err := time.Parse(time.RFC3339, c.Now)
		if err != nil {
			return fmt.Errorf("--now: %q is not an RFC 3339 instant (2026-12-03T10:00:00+08:00)", c.Now)
		}
		now = t
	}
	if (c.Text == "") == (c.Image == "") {
		return errors.New("give the QR's text or --image FILE, one of them")
	}
	r := c.verify(now)
	if c.JSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return err
		}
	} else {
		printQRReport(os.Stdout, r)
	}
	if !r.Valid {
		return fmt.Errorf("the compact QR is NOT valid: %s", joinReasons(r.Reasons))
	}
	return nil
}

// verify reads the files and checks the QR; a file that cannot be used
// gives a report with its reason alone.
func (c *VerifyQRCmd) verify(now time.Time) *verifyqr.Report {
	failed := func(err error, file string) *verifyqr.Report {
		reason := verifyqr.ReasonOf(err)
		if reason == "" {
			reason = unreadableFile
		}
		detail := file + ": " + err.Error()
		if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
			detail = err.Error() // names the file already
		}
		return &verifyqr.Report{Reason: reason, Reasons: []verifyqr.Reason{reason}, Details: []string{detail}, CheckedAt: now.UTC()}
	}
	b, err := readFileMax(c.HubKey, maxListFile)
	if err != nil {
		return failed(err, c.HubKey)
	}
	hub, err := verifyqr.ParseHubKey(b)
	if err != nil {
		return failed(err, c.HubKey)
	}
	if b, err = readFileMax(c.TrustList, maxListFile); err != nil {
		return failed(err, c.TrustList)
	}
	tl, err := verifyqr.ParseTrustList(b, hub)
	if err != nil {
		return failed(err, c.TrustList)
	}
	var lists []*verifyqr.StatusList
	for _, f := range c.StatusList {
		if b, err = readFileMax(f, maxListFile); err != nil {
			return failed(err, f)
		}
		l, err := verifyqr.ParseStatusList(b, hub)
		if err != nil {
			return failed(err, f)
		}
		lists = append(lists, l)
	}
	var types *verifyqr.Catalogue
	if c.LicenceTypes != "" {
		if b, err = readFileMax(c.LicenceTypes, maxListFile); err != nil {
			return failed(err, c.LicenceTypes)
		}
		if types, err = verifyqr.ParseCatalogue(b); err != nil {
			return failed(err, c.LicenceTypes)
		}
	}
	text, err := c.text()
	if err != nil {
		return failed(err, c.Image+c.Text)
	}
	return verifyqr.NewVerifier(tl, lists, types).Verify(text, now)
}

// text is the QR's text: the argument, standard input, or the image's QR.
func (c *VerifyQRCmd) text() (string, error) {
	switch {
	case c.Text == "-":
		b, err := io.ReadAll(io.LimitReader(os.Stdin, 64<<10))
		return strings.TrimSpace(string(b)), err
	case c.Text != "":
		return strings.TrimSpace(c.Text), nil
	}
	b, err := readFileMax(c.Image, maxImageFile)
	if err != nil {
		return "", err
	}
	// A small file can declare a huge image: check before decoding it.
	if cfg, _, err := image.DecodeConfig(bytes.NewReader(b)); err == nil && cfg.Width*cfg.Height > maxImagePixel {
		return "", &verifyqr.Error{Reason: verifyqr.NoQR, Err: fmt.Errorf("an image of %d×%d pixels is too large", cfg.Width, cfg.Height)}
	}
	text, err := qr.Decode(b)
	if err != nil {
		return "", &verifyqr.Error{Reason: verifyqr.NoQR, Err: err}
	}
	return text, nil
}

func readFileMax(name string, max int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("over %d bytes", max)
	}
	return b, nil
}

func joinReasons(rs []verifyqr.Reason) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

func printQRReport(out io.Writer, r *verifyqr.Report) {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	defer w.Flush()
	verdict := "valid"
	if !r.Valid {
		verdict = "NOT VALID: " + joinReasons(r.Reasons)
	}
	fmt.Fprintf(w, "compact QR\t%s\n", verdict)
	for i, reason := range r.Reasons {
		fmt.Fprintf(w, "  %s\t%s\n", reason, r.Details[i])
	}
	for _, warn := range r.Warnings {
		fmt.Fprintf(w, "  warning %s\t%s\n", warn.Reason, warn.Detail)
	}
	if l := r.Licence; l != nil {
		fmt.Fprintf(w, "licence\t%s\n", l.ID)
		fmt.Fprintf(w, "type\t%s (%s)\n", l.TypeName, l.TypeCode)
		fmt.Fprintf(w, "issuer\t%s (%s)\n", l.IssuerName, l.IssuerUSCC)
		fmt.Fprintf(w, "holder\t%s\n", l.Holder)
		until := l.ValidUntil
		if until == "" {
			until = "no expiry"
		}
		fmt.Fprintf(w, "valid\t%s – %s\n", l.ValidFrom, until)
		for _, f := range l.Fields {
			name := fmt.Sprintf("field %d", f.Number)
			if f.Name != "" {
				name = f.Name
				if zh := f.Label["zh-CN"]; zh != "" {
					name += " " + zh
				}
			}
			fmt.Fprintf(w, "  %s\t%v\n", name, f.Value)
		}
	}
	if q := r.QR; q != nil {
		fmt.Fprintf(w, "sealed\t%s by %s, kid %s\n", stamp(q.IssuedAt), q.Alg, q.Kid)
	}
	if s := r.SignedBy; s != nil {
		state := string(s.State)
		if s.ValidUntil != nil {
			state += ", retired " + stamp(*s.ValidUntil)
		}
		if s.CompromisedFrom != nil {
			state += " from " + stamp(*s.CompromisedFrom)
		}
		fmt.Fprintf(w, "signed by\t%s (%s), %s key %s, %s\n", s.AuthorityName, s.Authority, s.Alg, s.KID, state)
	}
	if s := r.Status; s != nil {
		value := "not read"
		if s.Value != nil {
			value = map[int]string{0: "valid", 1: "invalid (revoked)", 2: "suspended"}[int(*s.Value)]
			if value == "" {
				value = fmt.Sprintf("value %d", *s.Value)
			}
		}
		fmt.Fprintf(w, "status\t%s (index %d of %s)\n", value, s.Index, s.URI)
	}
	if t := r.TrustList; t != nil {
		fmt.Fprintf(w, "trust list\t%s\n", listAge(*t))
	}
	for _, l := range r.StatusLists {
		fmt.Fprintf(w, "status list\t%s\n", listAge(l))
	}
	fmt.Fprintf(w, "checked at\t%s\n", stamp(r.CheckedAt))
}

// listAge says how old a list is and whether it may still be used.
func listAge(a verifyqr.ListAge) string {
	s := fmt.Sprintf("%s, issued %s (%s ago)", a.URI, stamp(a.IssuedAt), time.Duration(a.AgeSeconds)*time.Second)
	if a.Expires != nil {
		s += ", expires " + stamp(*a.Expires)
	}
	if a.TTLSeconds > 0 {
		s += fmt.Sprintf(", ttl %s", time.Duration(a.TTLSeconds)*time.Second)
	}
	switch {
	case a.Stale:
		s += ": STALE, fetch a new one"
	case a.RefreshDue:
		s += ": older than its ttl, refresh when you can"
	default:
		s += ": fresh"
	}
	return s
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
