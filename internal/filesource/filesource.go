// Package filesource is the "file" connector kind: files a department drops
// into a directory, as CSV (UTF-8 or GB18030) or JSON Lines. Files are read
// in name order, each once; a finished file is moved into a done directory.
// The cursor names the file and how many records of it are done, so a run
// stopped half-way through a file resumes where it stopped.
package filesource

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"

	"github.com/xuri/excelize/v2"

	"github.com/certhub/certhub/connectors"
	"github.com/certhub/certhub/internal/errs"
)

// Settings of a file connector: a directory, or an S3 bucket prefix.
type Settings struct {
	Dir      string `json:"dir"`      // where files arrive (or S3)
	S3       *S3    `json:"s3"`       // files in a bucket prefix instead
	Pattern  string `json:"pattern"`  // glob of file names, default *.csv
	Format   string `json:"format"`   // csv, jsonl or xlsx; default from the extension
	Sheet    string `json:"sheet"`    // xlsx: the sheet to read; default the first
	Encoding string `json:"encoding"` // utf-8 (default) or gb18030 (CSV)
	DoneDir  string `json:"done_dir"` // where finished files go; default <dir>/done (S3: <prefix>done/)
}

// S3 names a bucket prefix where a department drops files. Credentials
// come from the environment.
type S3 struct {
	Endpoint     string `json:"endpoint"`
	Bucket       string `json:"bucket"`
	Prefix       string `json:"prefix"`
	AccessKeyEnv string `json:"access_key_env"`
	SecretKeyEnv string `json:"secret_key_env"`
	Region       string `json:"region"`
	UseSSL       bool   `json:"use_ssl"`
}

// Kind is the file connector kind.
type Kind struct{}

func parse(raw json.RawMessage) (*Settings, []errs.FieldError) {
	var s Settings
	if problems := connectors.DecodeSettings(raw, &s); problems != nil {
		return nil, problems
	}
	var l errs.List
	switch {
	case s.Dir == "" && s.S3 == nil:
		l.Add("dir", "is required (or s3)")
	case s.Dir != "" && s.S3 != nil:
		l.Add("s3", "give dir or s3, not both")
	case s.S3 != nil:
		if s.S3.Endpoint == "" || s.S3.Bucket == "" {
			l.Add("s3", "needs endpoint and bucket")
		}
		if s.S3.AccessKeyEnv == "" || s.S3.SecretKeyEnv == "" {
			l.Add("s3.access_key_env", "credentials come from access_key_env and secret_key_env")
		}
		if s.S3.Prefix != "" && !strings.HasSuffix(s.S3.Prefix, "/") {
			s.S3.Prefix += "/"
		}
	}
	if s.Pattern == "" {
		s.Pattern = "*.csv"
	}
	if _, err := filepath.Match(s.Pattern, "x"); err != nil {
		l.Add("pattern", "is not a valid glob")
	}
	switch s.Format {
	case "", "csv", "jsonl", "xlsx":
	default:
		l.Add("format", "must be csv, jsonl or xlsx, got %q", s.Format)
	}
	switch strings.ToLower(s.Encoding) {
	case "", "utf-8", "utf8":
		s.Encoding = "utf-8"
	case "gb18030", "gbk":
		s.Encoding = "gb18030"
	default:
		l.Add("encoding", "must be utf-8 or gb18030, got %q", s.Encoding)
	}
	if s.DoneDir == "" && s.S3 == nil {
		s.DoneDir = filepath.Join(s.Dir, "done")
	}
	return &s, l
}

// Validate implements connectors.Kind.
func (Kind) Validate(raw json.RawMessage) []errs.FieldError {
	_, problems := parse(raw)
	return problems
}

// Open implements connectors.Kind.
func (Kind) Open(ctx context.Context, raw json.RawMessage) (connectors.Source, error) {
	s, problems := parse(raw)
	if len(problems) > 0 {
		return nil, errs.E(errs.Invalid, "file source: %s: %s", problems[0].Field, problems[0].Reason)
	}
	var d drop
	if s.S3 != nil {
		b, err := openBucket(ctx, s.S3)
		if err != nil {
			return nil, err
		}
		d = b
	} else {
		if err := os.MkdirAll(s.DoneDir, 0o750); err != nil {
			return nil, fmt.Errorf("done directory: %w", err)
		}
		d = dirDrop{dir: s.Dir, doneDir: s.DoneDir}
	}
	return &source{s: s, drop: d}, nil
}

// drop is where files arrive: a directory or a bucket prefix.
type drop interface {
	// list names the files waiting that match pattern, in name order.
	list(ctx context.Context, pattern string) ([]string, error)
	// open reads a file.
	open(ctx context.Context, name string) (io.ReadCloser, error)
	// done moves a finished file aside.
	done(ctx context.Context, name string) error
}

type dirDrop struct{ dir, doneDir string }

type source struct {
	s    *Settings
	drop drop
}

type cursor struct {
	File   string `json:"file,omitempty"`
	Offset int    `json:"offset,omitempty"`
}

func (c cursor) String() string {
	b, _ := json.Marshal(c)
	return string(b)
}

func (d dirDrop) list(_ context.Context, pattern string) ([]string, error) {
	matches, err := filepath.Glob(filepath.Join(d.dir, pattern))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range matches {
		if fi, err := os.Stat(m); err == nil && fi.Mode().IsRegular() {
			out = append(out, filepath.Base(m))
		}
	}
	sort.Strings(out)
	return out, nil
}

func (d dirDrop) open(_ context.Context, name string) (io.ReadCloser, error) {
	return os.Open(filepath.Join(d.dir, name))
}

func (d dirDrop) done(_ context.Context, name string) error {
	return os.Rename(filepath.Join(d.dir, name), filepath.Join(d.doneDir, name))
}

// Fetch implements connectors.Source.
func (src *source) Fetch(ctx context.Context, cur string, limit int) (*connectors.Batch, error) {
	var c cursor
	if cur != "" {
		if err := json.Unmarshal([]byte(cur), &c); err != nil {
			return nil, fmt.Errorf("cursor %q: %w", cur, err)
		}
	}
	files, err := src.drop.list(ctx, src.s.Pattern)
	if err != nil {
		return nil, err
	}
	if c.File != "" && !contains(files, c.File) {
		c = cursor{} // the file was finished and moved: start the next one
	}
	if c.File == "" {
		if len(files) == 0 {
			return &connectors.Batch{Cursor: cursor{}.String(), Total: -1}, nil
		}
		c = cursor{File: files[0]}
	}
	records, more, err := src.read(ctx, c.File, c.Offset, limit)
	if err != nil {
		return nil, fmt.Errorf("file %s: %w", c.File, err)
	}
	b := &connectors.Batch{Records: records, Total: -1}
	if more {
		b.Cursor, b.More = cursor{File: c.File, Offset: c.Offset + len(records)}.String(), true
		return b, nil
	}
	// The file is done: the cursor moves to "next file", and once that is
	// saved the file goes to the done directory. A crash in between reads
	// it again, and every record is then unchanged.
	b.Cursor, b.More = cursor{}.String(), len(files) > 1
	name := c.File
	b.Commit = func(ctx context.Context) error { return src.drop.done(ctx, name) }
	return b, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (src *source) format(path string) string {
	if src.s.Format != "" {
		return src.s.Format
	}
	lower := strings.ToLower(path)
	switch {
	case strings.HasSuffix(lower, ".jsonl"), strings.HasSuffix(lower, ".ndjson"):
		return "jsonl"
	case strings.HasSuffix(lower, ".xlsx"):
		return "xlsx"
	}
	return "csv"
}

// read returns records [offset, offset+limit) of a file and whether more follow.
func (src *source) read(ctx context.Context, path string, offset, limit int) ([]connectors.Record, bool, error) {
	f, err := src.drop.open(ctx, path)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	if src.format(path) == "xlsx" {
		next, closeFn, err := src.xlsxReader(f)
		if err != nil {
			return nil, false, err
		}
		defer closeFn()
		return collect(next, offset, limit)
	}
	var r io.Reader = bufio.NewReaderSize(f, 1<<16)
	if src.s.Encoding == "gb18030" {
		r = transform.NewReader(r, simplifiedchinese.GB18030.NewDecoder())
	}
	next, err := src.reader(path, r)
	if err != nil {
		return nil, false, err
	}
	return collect(next, offset, limit)
}

// collect skips offset records and returns up to limit more.
func collect(next func() (connectors.Record, error), offset, limit int) ([]connectors.Record, bool, error) {
	var out []connectors.Record
	for n := 0; ; n++ {
		rec, err := next()
		if errors.Is(err, io.EOF) {
			return out, false, nil
		}
		if err != nil {
			return nil, false, fmt.Errorf("record %d: %w", n+1, err)
		}
		if n < offset {
			continue
		}
		if len(out) == limit {
			return out, true, nil
		}
		out = append(out, rec)
	}
}

func (src *source) reader(path string, r io.Reader) (func() (connectors.Record, error), error) {
	if src.format(path) == "jsonl" {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		return func() (connectors.Record, error) {
			for sc.Scan() {
				line := bytes.TrimSpace(sc.Bytes())
				if len(line) == 0 {
					continue
				}
				if !utf8.Valid(line) {
					return connectors.Record{}, fmt.Errorf("not valid UTF-8")
				}
				var fields map[string]any
				dec := json.NewDecoder(bytes.NewReader(line))
				dec.UseNumber()
				if err := dec.Decode(&fields); err != nil {
					return connectors.Record{}, fmt.Errorf("not a JSON object: %v", err)
				}
				return connectors.Record{Fields: fields, Raw: append([]byte(nil), line...)}, nil
			}
			if err := sc.Err(); err != nil {
				return connectors.Record{}, err
			}
			return connectors.Record{}, io.EOF
		}, nil
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = false
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return func() (connectors.Record, error) { return connectors.Record{}, io.EOF }, nil
	}
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	for i, h := range header {
		h = strings.TrimPrefix(h, "\ufeff") // Excel writes a BOM
		if !utf8.ValidString(h) {
			return nil, fmt.Errorf("the header is not valid %s; is the file's encoding set right?", src.s.Encoding)
		}
		header[i] = strings.TrimSpace(h)
	}
	return func() (connectors.Record, error) {
		row, err := cr.Read()
		if err != nil {
			return connectors.Record{}, err
		}
		fields := map[string]any{}
		for i, v := range row {
			if !utf8.ValidString(v) {
				return connectors.Record{}, fmt.Errorf("not valid %s text; is the file's encoding set right?", src.s.Encoding)
			}
			if i < len(header) {
				fields[header[i]] = v
			}
		}
		raw, _ := json.Marshal(fields)
		return connectors.Record{Fields: fields, Raw: raw}, nil
	}, nil
}

// xlsxReader streams the rows of a workbook's sheet; the first row names
// the fields.
func (src *source) xlsxReader(r io.Reader) (func() (connectors.Record, error), func(), error) {
	wb, err := excelize.OpenReader(r)
	if err != nil {
		return nil, nil, fmt.Errorf("not a readable .xlsx workbook: %w", err)
	}
	sheet := src.s.Sheet
	if sheet == "" {
		sheet = wb.GetSheetName(0)
	}
	rows, err := wb.Rows(sheet)
	if err != nil {
		wb.Close()
		return nil, nil, fmt.Errorf("sheet %q: %w", sheet, err)
	}
	closeFn := func() { rows.Close(); wb.Close() }
	if !rows.Next() {
		return func() (connectors.Record, error) { return connectors.Record{}, io.EOF }, closeFn, nil
	}
	header, err := rows.Columns()
	if err != nil {
		closeFn()
		return nil, nil, fmt.Errorf("header: %w", err)
	}
	for i := range header {
		header[i] = strings.TrimSpace(header[i])
	}
	return func() (connectors.Record, error) {
		for rows.Next() {
			cells, err := rows.Columns()
			if err != nil {
				return connectors.Record{}, err
			}
			fields := map[string]any{}
			empty := true
			for i, v := range cells {
				if i < len(header) && header[i] != "" {
					fields[header[i]] = v
					empty = empty && strings.TrimSpace(v) == ""
				}
			}
			if empty {
				continue // a blank row
			}
			raw, _ := json.Marshal(fields)
			return connectors.Record{Fields: fields, Raw: raw}, nil
		}
		if err := rows.Error(); err != nil {
			return connectors.Record{}, err
		}
		return connectors.Record{}, io.EOF
	}, closeFn, nil
}
