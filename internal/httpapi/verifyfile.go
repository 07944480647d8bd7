package httpapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/licencefile"
)

// verifyFile answers POST /api/v1/verify with multipart/form-data: the
// licence file in the field "file" (OFD or PDF, up to 8 MiB). The answer is
// the identifier's verification answer, with the file's form, its seal's
// reasons first and what is wrong with the file in file_problems. Nothing
// is stored.
func (s *Server) verifyFile(w http.ResponseWriter, r *http.Request) {
	if s.Files == nil {
		s.fail(w, r, errs.E(errs.Unavailable, "licence files are not configured on this hub"))
		return
	}
	data, err := readUpload(w, r, "file", licencefile.MaxFileBytes)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	fv, err := s.Files.Verify(r.Context(), data)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := fv.Status
	if v == nil {
		v = &certificates.Verification{}
	}
	a := s.verifyAnswer(r, v, false)
	a.Valid, a.Reasons = fv.Valid, nonNil(fv.Reasons)
	a.Form, a.FileProblems = string(fv.Form), fv.Problems
	s.countVerification("file", a.Valid)
	s.writeJSON(w, http.StatusOK, a)
}

// readUpload reads one file field of a multipart body of at most limit
// bytes (plus room for the other parts); every error names field.
func readUpload(w http.ResponseWriter, r *http.Request, field string, limit int64) ([]byte, error) {
	tooLarge := &errs.Error{Code: errs.TooLarge, Field: field, Message: fmt.Sprintf("the file is larger than %d bytes", limit)}
	body := limit + 64<<10
	if r.ContentLength > body {
		return nil, tooLarge
	}
	r.Body = http.MaxBytesReader(w, r.Body, body)
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, errs.Field(field, "send multipart/form-data with the file in the field %q", field)
	}
	for {
		p, err := mr.NextPart()
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return nil, tooLarge
		case err == io.EOF:
			return nil, errs.Field(field, "missing: send the licence file in the field %q", field)
		case err != nil:
			return nil, errs.Field(field, "the multipart body is malformed")
		}
		if p.FormName() != field {
			_ = p.Close()
			continue
		}
		data, err := io.ReadAll(io.LimitReader(p, limit+1))
		switch {
		case errors.As(err, &mbe):
			return nil, tooLarge
		case err != nil:
			return nil, errs.Field(field, "the multipart body is malformed")
		case int64(len(data)) > limit:
			return nil, tooLarge
		}
		return data, nil
	}
}
