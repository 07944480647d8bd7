package federation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
)

// Serving the copies (docs/federation.md): the versions children pushed
// here are read by this hub's own department systems, under this hub's
// agreements, as read-only certificates marked with their home hub.

// CopyStore reads the copies kept here and their types' definitions.
type CopyStore interface {
	// FederatedVersion reads one copy (errs.NotFound).
	FederatedVersion(ctx context.Context, id string) (*Version, error)
	// FederatedByHolder lists a holder's copies by this hub's holder index.
	FederatedByHolder(ctx context.Context, holderIndex string) ([]*Version, error)
	// FederatedType reads a pushed type definition (errs.NotFound).
	FederatedType(ctx context.Context, code string) (*exchange.FederatedType, error)
}

// Copies implements exchange.Copies over the copies kept here.
type Copies struct {
	Store     CopyStore
	Documents certificates.DocumentStore
	// Service names the home hubs from the directory (nil: no names).
	Service *Service
}

var _ exchange.Copies = (*Copies)(nil)

// FederatedType implements exchange.Copies.
func (c *Copies) FederatedType(ctx context.Context, code string) (*exchange.FederatedType, error) {
	return c.Store.FederatedType(ctx, code)
}

// FindCopies implements exchange.Copies. A holder has a handful of
// copies; each one's data is read from its document. Superseded versions
// are left out, as a lookup of own certificates leaves them out.
func (c *Copies) FindCopies(ctx context.Context, holderIndex string, types []string) ([]*certificates.Certificate, error) {
	vs, err := c.Store.FederatedByHolder(ctx, holderIndex)
	if err != nil {
		return nil, err
	}
	var out []*certificates.Certificate
	for _, v := range vs {
		if (len(types) > 0 && !slices.Contains(types, v.Type)) || v.State == certificates.StateSuperseded {
			continue // of another type, or not current (as a lookup of own certificates)
		}
		ct, err := c.certificate(ctx, v)
		if err != nil {
			return nil, err
		}
		out = append(out, ct)
	}
	return out, nil
}

// Copy implements exchange.Copies.
func (c *Copies) Copy(ctx context.Context, id string) (*certificates.Certificate, error) {
	v, err := c.Store.FederatedVersion(ctx, id)
	if err != nil {
		return nil, err
	}
	return c.certificate(ctx, v)
}

// CopyDocument implements exchange.Copies.
func (c *Copies) CopyDocument(ctx context.Context, ct *certificates.Certificate) ([]byte, error) {
	if ct.HomeHub == "" {
		return nil, errs.E(errs.NotFound, "certificate %s is not a copy kept here", ct.ID)
	}
	return c.document(ctx, ct.ID, ct.DocumentKey, ct.DocumentOffset, ct.DocumentLength, ct.DocumentSHA256)
}

// HubName implements exchange.Copies.
func (c *Copies) HubName(ctx context.Context, hub string) string {
	if c.Service == nil {
		return ""
	}
	v, err := c.Service.View(ctx)
	if err != nil {
		return ""
	}
	if e := v.Hub(hub); e != nil {
		return e.Name
	}
	return ""
}

// certificate is a copy as a registry record with its home hub, and the
// holder and data its document carries (the document is the data's only
// home here: the parent keeps no other copy of it).
func (c *Copies) certificate(ctx context.Context, v *Version) (*certificates.Certificate, error) {
	doc, err := c.document(ctx, v.ID, v.DocumentKey, v.DocumentOffset, v.DocumentLength, v.DocumentSHA256)
	if err != nil {
		return nil, err
	}
	var claims struct {
		CredentialSubject struct {
			Holder certificates.Holder `json:"holder"`
			Data   map[string]any      `json:"data"`
		} `json:"credentialSubject"`
	}
	if _, err := Peek(string(doc), &claims); err != nil {
		return nil, errs.Wrap(fmt.Errorf("the document of copy %s: %w", v.ID, err), "read a copy")
	}
	ct := v.Record()
	ct.HomeHub, ct.HolderIndex = v.HomeHub, v.HolderIndex
	ct.DocumentKey, ct.DocumentOffset, ct.DocumentLength = v.DocumentKey, v.DocumentOffset, v.DocumentLength
	ct.Holder = claims.CredentialSubject.Holder
	ct.Holder.Kind, ct.Holder.Name = v.HolderKind, v.HolderName
	ct.Data = claims.CredentialSubject.Data
	if ct.Data == nil {
		ct.Data = map[string]any{}
	}
	return ct, nil
}

// document reads a copy's document from its byte range and checks it
// against the SHA-256 recorded when it was pushed.
func (c *Copies) document(ctx context.Context, id, key string, offset, length int64, want string) ([]byte, error) {
	var doc []byte
	var err error
	if length == 0 {
		doc, err = c.Documents.Get(ctx, key)
	} else {
		doc, err = c.Documents.GetRange(ctx, key, offset, length)
	}
	if errs.Is(err, errs.NotFound) {
		return nil, errs.Wrap(fmt.Errorf("document object %s of copy %s is missing from object storage", key, id), "read a copy")
	}
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(doc)
	if hex.EncodeToString(sum[:]) != want {
		return nil, errs.Wrap(fmt.Errorf("the document of copy %s (%s) does not match its recorded SHA-256", id, key), "read a copy")
	}
	return doc, nil
}
