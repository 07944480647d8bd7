package certificates

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"runtime"
	"sort"
	"time"
)

// BatchResult is the outcome of one request of a batch issuance.
type BatchResult struct {
	Certificate *Certificate
	Err         error // the request's own fault (validation); nil when issued
}

// IssueBatch issues many first versions at once, the bulk path for
// connectors' backfills. Each request is validated on its own; the valid
// ones of one type and issuer get consecutive serials, are sealed, and
// their documents are written together as one immutable batch object
// (each document addressable on its own by byte range, with its own
// SHA-256 in the index). The rows, with their origins, are committed in
// one transaction after the object is durable. As with single issuance,
// a failure between the two leaves only an unreachable object.
//
// The returned error is the hub's own failure (store, object store, seal):
// nothing of the batch was committed.
func (s *Service) IssueBatch(ctx context.Context, sc Scope, reqs []*IssueRequest) ([]BatchResult, error) {
	results := make([]BatchResult, len(reqs))
	type group struct {
		t     *Type
		a     *Authority
		items []int
	}
	groups := map[string]*group{}
	for i, r := range reqs {
		t, a, fault, err := s.prepare(ctx, sc, r)
		if err != nil {
			return nil, err
		}
		if fault != nil {
			results[i].Err = fault
			continue
		}
		k := t.Code + "." + a.Code
		if groups[k] == nil {
			groups[k] = &group{t: t, a: a}
		}
		groups[k].items = append(groups[k].items, i)
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var all []*Certificate
	for _, k := range keys {
		g := groups[k]
		first, err := s.Store.NextSerials(ctx, g.t.Code, g.a.Code, len(g.items))
		if err != nil {
			return nil, err
		}
		now := s.now()
		started := time.Now()
		batch := make([]*Certificate, len(g.items))
		docs := make([][]byte, len(g.items))
		for n, i := range g.items {
			r := reqs[i]
			ident := Identifier{TypeCode: g.t.Code, Issuer: g.a.Code, Serial: fmt.Sprintf("%06d", first+int64(n)), Version: 1}
			batch[n] = &Certificate{ID: ident.String(), Ident: ident, Type: g.t.Code, Authority: g.a.Code, Serial: ident.Serial, Version: 1,
				Holder: r.Holder, Data: r.Data, ValidFrom: r.ValidFrom, ValidUntil: r.ValidUntil, State: StateValid,
				IssuedAt: now, UpdatedAt: now, Origin: r.Origin}
			results[i].Certificate = batch[n]
		}
		// Sealing is independent per document: spread it over the cores,
		// all with the key that is active now.
		seal, err := s.Keys.Sealer(ctx, g.a.Code)
		if err != nil {
			return nil, err
		}
		workers := min(runtime.GOMAXPROCS(0), len(batch))
		errc := make(chan error, workers)
		for w := 0; w < workers; w++ {
			go func(w int) {
				for n := w; n < len(batch); n += workers {
					c := batch[n]
					c.HolderIndex = s.Vault.Index(string(c.Holder.Kind), c.Holder.ID)
					c.HolderSealed = s.Vault.Seal(string(c.Holder.Kind), c.Holder.ID)
					payload, err := buildCredential(c, g.t, g.a, s.Location)
					if err != nil {
						errc <- err
						return
					}
					doc, kid, err := seal(payload)
					if err != nil {
						errc <- err
						return
					}
					sum := sha256.Sum256(doc)
					c.KID, c.DocumentSHA256, docs[n] = kid, hex.EncodeToString(sum[:]), doc
				}
				errc <- nil
			}(w)
		}
		for w := 0; w < workers; w++ {
			if err := <-errc; err != nil {
				return nil, err
			}
		}
		var object bytes.Buffer
		for n, c := range batch {
			c.DocumentOffset, c.DocumentLength = int64(object.Len()), int64(len(docs[n]))
			object.Write(docs[n])
			object.WriteByte('\n')
		}
		sum := sha256.Sum256(object.Bytes())
		key := fmt.Sprintf("batches/%s/%s/%s-%s.jwsl", g.t.Code, g.a.Code, batch[0].Serial, hex.EncodeToString(sum[:8]))
		sealed := time.Now()
		if err := s.Documents.Put(ctx, key, object.Bytes()); err != nil {
			return nil, err
		}
		if s.Log != nil {
			s.Log.DebugContext(ctx, "batch object", "key", key, "documents", len(batch), "bytes", object.Len(),
				"seal", sealed.Sub(started), "put", time.Since(sealed))
		}
		for _, c := range batch {
			c.DocumentKey = key
		}
		all = append(all, batch...)
	}
	if len(all) > 0 {
		t := time.Now()
		if err := s.Store.InsertCertificates(ctx, all); err != nil {
			return nil, err
		}
		if s.Log != nil {
			s.Log.DebugContext(ctx, "batch rows", "rows", len(all), "insert", time.Since(t))
		}
	}
	return results, nil
}
