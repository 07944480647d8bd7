// Package httpsource is the "http" connector kind: a department's JSON
// HTTP API, read page by page (page number, offset or opaque cursor), and
// incrementally by an updated-since parameter. Requests authenticate with a
// bearer token, basic auth or an HMAC signature, their secrets read from the
// environment or a file (never stored in the database). 5xx, 429 and
// network errors are retried with exponential backoff, honouring
// Retry-After; an answer that is not JSON fails the run with a clear error
// and leaves the cursor where it was.
package httpsource

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/certhub/certhub/connectors"
	"github.com/certhub/certhub/internal/errs"
)

// Settings of an http connector.
type Settings struct {
	URL         string            `json:"url"`
	Records     string            `json:"records"` // dot path to the array of records; "" = the body is the array
	Pagination  Pagination        `json:"pagination"`
	Incremental *Incremental      `json:"incremental"`
	Auth        Auth              `json:"auth"`
	Headers     map[string]string `json:"headers"`
	Timeout     string            `json:"timeout"` // per request, default 30s
	Retries     *int              `json:"retries"` // default 5
}

// Pagination says how pages are asked for.
type Pagination struct {
	Style       string `json:"style"`        // page, offset, cursor or none
	PageParam   string `json:"page_param"`   // default page
	FirstPage   int    `json:"first_page"`   // default 1
	SizeParam   string `json:"size_param"`   // default page_size (also for offset)
	OffsetParam string `json:"offset_param"` // default offset
	CursorParam string `json:"cursor_param"` // default cursor
	NextCursor  string `json:"next_cursor"`  // dot path of the next cursor in the answer
}

// Incremental asks only for records changed since the last run.
type Incremental struct {
	Param string `json:"param"` // query parameter, e.g. updated_since
	// Field is the record field with the change time, a dot path like the
	// mapping's (meta.updated), in any encoding connectors.ChangeTime reads.
	Field string `json:"field"`
}

// Auth authenticates requests. Secrets come from *_env variables or *_file
// files.
type Auth struct {
	Type         string `json:"type"` // none, bearer, basic, hmac
	TokenEnv     string `json:"token_env"`
	TokenFile    string `json:"token_file"`
	UsernameEnv  string `json:"username_env"`
	PasswordEnv  string `json:"password_env"`
	PasswordFile string `json:"password_file"`
	SecretEnv    string `json:"secret_env"`
	SecretFile   string `json:"secret_file"`
	KeyID        string `json:"key_id"`
}

// Kind is the http connector kind; Client may be set for tests.
type Kind struct {
	Client *http.Client
	// Location is the zone of change times written without one (the hub's
	// civil time zone); nil means UTC.
	Location *time.Location
}

func parse(raw json.RawMessage) (*Settings, []errs.FieldError) {
	var s Settings
	if problems := connectors.DecodeSettings(raw, &s); problems != nil {
		return nil, problems
	}
	var l errs.List
	if u, err := url.Parse(s.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		l.Add("url", "must be an http(s) URL")
	}
	p := &s.Pagination
	switch p.Style {
	case "", "none", "page", "offset", "cursor":
	default:
		l.Add("pagination.style", "must be page, offset, cursor or none")
	}
	if p.Style == "cursor" && p.NextCursor == "" {
		l.Add("pagination.next_cursor", "is required for cursor pagination: where the answer gives the next cursor")
	}
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&p.PageParam, "page")
	def(&p.SizeParam, "page_size")
	def(&p.OffsetParam, "offset")
	def(&p.CursorParam, "cursor")
	if p.FirstPage == 0 {
		p.FirstPage = 1
	}
	if inc := s.Incremental; inc != nil {
		if inc.Param == "" || inc.Field == "" {
			l.Add("incremental", "needs param (the query parameter) and field (the record's change time)")
		} else if why := connectors.PathProblem(inc.Field); why != "" {
			l.Add("incremental.field", "%s", why)
		}
	}
	a := s.Auth
	switch a.Type {
	case "", "none":
	case "bearer":
		if a.TokenEnv == "" && a.TokenFile == "" {
			l.Add("auth.token_env", "a bearer token needs token_env or token_file")
		}
	case "basic":
		if a.UsernameEnv == "" || (a.PasswordEnv == "" && a.PasswordFile == "") {
			l.Add("auth.username_env", "basic auth needs username_env and password_env or password_file")
		}
	case "hmac":
		if a.SecretEnv == "" && a.SecretFile == "" {
			l.Add("auth.secret_env", "HMAC signing needs secret_env or secret_file")
		}
	default:
		l.Add("auth.type", "must be none, bearer, basic or hmac")
	}
	if s.Timeout != "" {
		if d, err := time.ParseDuration(s.Timeout); err != nil || d <= 0 {
			l.Add("timeout", "must be a duration like 30s")
		}
	}
	if s.Retries != nil && (*s.Retries < 0 || *s.Retries > 20) {
		l.Add("retries", "must be between 0 and 20")
	}
	return &s, l
}

// Validate implements connectors.Kind.
func (Kind) Validate(raw json.RawMessage) []errs.FieldError {
	_, p := parse(raw)
	return p
}

// CursorField implements connectors.CursorFielder: the record field an
// incremental source follows.
func (Kind) CursorField(raw json.RawMessage) (setting, path string) {
	s, _ := parse(raw)
	if s == nil || s.Incremental == nil {
		return "", ""
	}
	return "incremental.field", s.Incremental.Field
}

// Open implements connectors.Kind.
func (k Kind) Open(_ context.Context, raw json.RawMessage) (connectors.Source, error) {
	s, problems := parse(raw)
	if len(problems) > 0 {
		return nil, errs.E(errs.Invalid, "http source: %s: %s", problems[0].Field, problems[0].Reason)
	}
	timeout := 30 * time.Second
	if s.Timeout != "" {
		timeout, _ = time.ParseDuration(s.Timeout)
	}
	retries := 5
	if s.Retries != nil {
		retries = *s.Retries
	}
	cl := k.Client
	if cl == nil {
		cl = &http.Client{}
	}
	loc := k.Location
	if loc == nil {
		loc = time.UTC
	}
	return &source{s: s, client: cl, timeout: timeout, retries: retries, loc: loc}, nil
}

type source struct {
	s       *Settings
	client  *http.Client
	timeout time.Duration
	retries int
	loc     *time.Location
}

// cursor is where a pass through the source is. Change times are kept as
// the source wrote them (sent back so in the incremental parameter) and
// compared as times.
type cursor struct {
	Since string `json:"since,omitempty"` // incremental: changes since this (from the last full pass)
	Next  string `json:"next,omitempty"`  // page number, offset or opaque cursor within the pass
	Max   string `json:"max,omitempty"`   // the latest change time seen in this pass
}

// later reports whether change time a is after b ("" is before all).
func (src *source) later(a, b string) (bool, error) {
	if a == "" {
		return false, nil
	}
	if b == "" {
		return true, nil
	}
	ta, err := connectors.ChangeTime(a, src.loc)
	if err != nil {
		return false, fmt.Errorf("cursor change time %q %v", a, err)
	}
	tb, err := connectors.ChangeTime(b, src.loc)
	if err != nil {
		return false, fmt.Errorf("cursor change time %q %v", b, err)
	}
	return ta.After(tb), nil
}

// changeText is a change time as the source wrote it, to send back.
func changeText(v any) string {
	switch t := v.(type) {
	case string:
		return strings.TrimSpace(t)
	case json.Number:
		return t.String()
	}
	return fmt.Sprint(v)
}

func secret(env, file string) (string, error) {
	if env != "" {
		v := os.Getenv(env)
		if v == "" {
			return "", fmt.Errorf("environment variable %s is not set", env)
		}
		return v, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("secret file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// Fetch implements connectors.Source.
func (src *source) Fetch(ctx context.Context, cur string, limit int) (*connectors.Batch, error) {
	var c cursor
	if cur != "" {
		if err := json.Unmarshal([]byte(cur), &c); err != nil {
			return nil, fmt.Errorf("cursor %q: %w", cur, err)
		}
	}
	u, _ := url.Parse(src.s.URL)
	q := u.Query()
	p := src.s.Pagination
	switch p.Style {
	case "page":
		page := p.FirstPage
		if c.Next != "" {
			page, _ = strconv.Atoi(c.Next)
		}
		q.Set(p.PageParam, strconv.Itoa(page))
		q.Set(p.SizeParam, strconv.Itoa(limit))
	case "offset":
		q.Set(p.OffsetParam, cmp(c.Next, "0"))
		q.Set(p.SizeParam, strconv.Itoa(limit))
	case "cursor":
		if c.Next != "" {
			q.Set(p.CursorParam, c.Next)
		}
		q.Set(p.SizeParam, strconv.Itoa(limit))
	}
	if inc := src.s.Incremental; inc != nil && c.Since != "" {
		q.Set(inc.Param, c.Since)
	}
	u.RawQuery = q.Encode()
	body, err := src.get(ctx, u)
	if err != nil {
		return nil, err
	}
	var doc any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s answered malformed JSON: %v", u.Redacted(), err)
	}
	list, ok := at(doc, src.s.Records).([]any)
	if !ok {
		return nil, fmt.Errorf("%s: the answer has no array of records at %q", u.Redacted(), src.s.Records)
	}
	b := &connectors.Batch{Total: -1}
	var maxT time.Time
	if c.Max != "" {
		if maxT, err = connectors.ChangeTime(c.Max, src.loc); err != nil {
			return nil, fmt.Errorf("cursor change time %q %v", c.Max, err)
		}
	}
	for i, item := range list {
		fields, ok := item.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: record %d is not an object", u.Redacted(), i)
		}
		raw, _ := json.Marshal(fields)
		rec := connectors.Record{Fields: fields, Raw: raw}
		b.Records = append(b.Records, rec)
		if inc := src.s.Incremental; inc != nil {
			// Every record's change time must be readable: one that is not
			// fails the run, naming it, rather than leave the cursor behind
			// and read everything again on every run.
			v, ok := connectors.FieldAt(fields, inc.Field)
			if !ok || v == nil {
				return nil, &connectors.CursorError{Where: u.Redacted(), Index: i + 1, Record: rec, Field: inc.Field, Absent: true}
			}
			t, err := connectors.ChangeTime(v, src.loc)
			if err != nil {
				return nil, &connectors.CursorError{Where: u.Redacted(), Index: i + 1, Record: rec, Field: inc.Field, Value: v, Reason: err.Error()}
			}
			if t.After(b.Latest) {
				b.Latest = t
			}
			if c.Max == "" || t.After(maxT) {
				c.Max, maxT = changeText(v), t
			}
		}
	}
	next := ""
	switch p.Style {
	case "page":
		if len(list) == limit {
			page, _ := strconv.Atoi(cmp(c.Next, strconv.Itoa(p.FirstPage)))
			next = strconv.Itoa(page + 1)
		}
	case "offset":
		if len(list) == limit {
			off, _ := strconv.Atoi(cmp(c.Next, "0"))
			next = strconv.Itoa(off + len(list))
		}
	case "cursor":
		if v := at(doc, p.NextCursor); v != nil {
			next = fmt.Sprint(v)
		}
	}
	if next != "" {
		c.Next = next
		b.More = true
	} else {
		// The pass is complete: the next one asks for changes since the
		// latest change seen (inclusive, so records sharing that instant
		// are read again and found unchanged, never skipped).
		later, err := src.later(c.Max, c.Since)
		if err != nil {
			return nil, err
		}
		if later {
			c.Since = c.Max
		}
		c.Next, c.Max = "", ""
	}
	cj, _ := json.Marshal(c)
	b.Cursor = string(cj)
	return b, nil
}

func cmp(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

// at follows a dot path into a decoded JSON document.
func at(doc any, path string) any {
	if path == "" {
		return doc
	}
	for _, part := range strings.Split(path, ".") {
		m, ok := doc.(map[string]any)
		if !ok {
			return nil
		}
		doc = m[part]
	}
	return doc
}

// get fetches a URL with retries on transient failures.
func (src *source) get(ctx context.Context, u *url.URL) ([]byte, error) {
	var last error
	for attempt := 0; attempt <= src.retries; attempt++ {
		if attempt > 0 {
			wait := backoff(attempt)
			if ra, ok := last.(*retryAfter); ok && ra.wait > 0 {
				wait = min(ra.wait, 5*time.Minute)
			}
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		body, err, retry := src.once(ctx, u)
		if err == nil {
			return body, nil
		}
		last = err
		if !retry {
			return nil, fmt.Errorf("%s: %w", u.Redacted(), err)
		}
	}
	return nil, fmt.Errorf("%s: giving up after %d attempts: %w", u.Redacted(), src.retries+1, last)
}

func backoff(attempt int) time.Duration {
	d := 200 * time.Millisecond << (attempt - 1)
	d = min(d, 10*time.Second)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

type retryAfter struct {
	status int
	wait   time.Duration
}

func (r *retryAfter) Error() string { return fmt.Sprintf("answered HTTP %d", r.status) }

// once makes one request. Its errors do not name the URL: get names it,
// once, whatever the attempt that failed.
func (src *source) once(ctx context.Context, u *url.URL) (body []byte, err error, retry bool) {
	ctx, cancel := context.WithTimeout(ctx, src.timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	req.Header.Set("Accept", "application/json")
	for k, v := range src.s.Headers {
		req.Header.Set(k, v)
	}
	if err := src.sign(req); err != nil {
		return nil, err, false
	}
	resp, err := src.client.Do(req)
	if err != nil {
		// The client's *url.Error repeats the method and URL: keep its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, err, true
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return nil, &retryAfter{status: resp.StatusCode, wait: parseRetryAfter(resp.Header.Get("Retry-After"))}, true
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("answered HTTP %d", resp.StatusCode), false
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "" && !strings.Contains(mt, "json") {
		return nil, fmt.Errorf("answered %s, not JSON", mt), false
	}
	body, err = io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err), true
	}
	if !json.Valid(body) {
		// A truncated or garbled answer may be a passing fault: try again.
		return nil, errors.New("answered malformed JSON"), true
	}
	return body, nil, false
}

func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t)
	}
	return 0
}

// sign authenticates a request. The HMAC signature covers the method, the
// path with its query and a timestamp: X-Signature = hex(HMAC-SHA256(secret,
// METHOD "\n" PATH?QUERY "\n" TIMESTAMP)), with X-Timestamp (Unix seconds)
// and X-Key-Id.
func (src *source) sign(req *http.Request) error {
	a := src.s.Auth
	switch a.Type {
	case "bearer":
		tok, err := secret(a.TokenEnv, a.TokenFile)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	case "basic":
		user := os.Getenv(a.UsernameEnv)
		pass, err := secret(a.PasswordEnv, a.PasswordFile)
		if err != nil {
			return err
		}
		req.SetBasicAuth(user, pass)
	case "hmac":
		key, err := secret(a.SecretEnv, a.SecretFile)
		if err != nil {
			return err
		}
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		m := hmac.New(sha256.New, []byte(key))
		fmt.Fprintf(m, "%s\n%s\n%s", req.Method, req.URL.RequestURI(), ts)
		req.Header.Set("X-Timestamp", ts)
		req.Header.Set("X-Key-Id", a.KeyID)
		req.Header.Set("X-Signature", hex.EncodeToString(m.Sum(nil)))
	}
	return nil
}
