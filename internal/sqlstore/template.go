package sqlstore

import (
	"context"
	"encoding/json"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/errs"
)

// GetTemplate implements certificates.Store.
func (s *Store) GetTemplate(ctx context.Context, typeCode string) (*certificates.Template, error) {
	var raw *string
	err := s.db.QueryRow(ctx, `SELECT template FROM cert_types WHERE code = $1`, typeCode).Scan(&raw)
	if err != nil {
		return nil, notFound(err, "certificate type %s does not exist", typeCode)
	}
	if raw == nil {
		return nil, nil
	}
	var tp certificates.Template
	if err := json.Unmarshal([]byte(*raw), &tp); err != nil {
		return nil, errs.Wrap(err, "decode template of type %s", typeCode)
	}
	return &tp, nil
}

// SetTemplate implements certificates.Store.
func (s *Store) SetTemplate(ctx context.Context, typeCode string, tp *certificates.Template, at time.Time) error {
	raw, err := json.Marshal(tp)
	if err != nil {
		return errs.Wrap(err, "encode template")
	}
	n, err := s.db.Exec(ctx, `UPDATE cert_types SET template = $2, template_updated_at = $3 WHERE code = $1`, typeCode, string(raw), at)
	if err != nil {
		return err
	}
	if n == 0 {
		return errs.E(errs.NotFound, "certificate type %s does not exist", typeCode)
	}
	return nil
}
