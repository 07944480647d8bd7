package federation

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/signing"
)

// Aggregation upward (归集): a child pushes its outbox — every version it
// issues and every lifecycle change, its own and those its children pushed
// to it — to its parent, in outbox order, in signed batches. The parent
// applies a batch in one transaction that also moves its cursor for that
// child, so a batch sent twice (a crash on either side, a lost answer) is
// applied once; the child moves its own cursor to what the parent says it
// applied. Documents travel as their authority signed them: the parent
// never re-seals.

// Headers of a push.
const (
	HubHeader       = "X-Certhub-Hub"
	SignatureHeader = "X-Certhub-Signature"
	// AggregatePath is where a parent takes its children's pushes.
	AggregatePath = "/api/v1/federation/aggregate"
	// MaxAggregateBytes bounds a push's body.
	MaxAggregateBytes = 32 << 20
	// aggregateBatch is how many outbox events one push carries.
	aggregateBatch = 500
)

// PushedVersion is a certificate version as a push carries it: the
// document as signed, and what the child's registry says of it. A
// backfilled version also carries its state then; an issued or revised
// one is valid by its event.
type PushedVersion struct {
	ValidFrom    certificates.Date  `json:"valid_from"`
	ValidUntil   certificates.Date  `json:"valid_until"`
	KID          string             `json:"kid"`
	IssuedAt     time.Time          `json:"issued_at"`
	Document     string             `json:"document"`
	State        certificates.State `json:"state,omitempty"`
	StateReason  string             `json:"state_reason,omitempty"`
	SupersededBy string             `json:"superseded_by,omitempty"`
}

// PushedEvent is one outbox event in a push: its seq in the child's
// outbox, the event, and for issued and revised the new version.
type PushedEvent struct {
	Seq     int64          `json:"seq"`
	Event   exchange.Event `json:"event"`
	Lineage string         `json:"lineage"`
	Version *PushedVersion `json:"version,omitempty"`
}

// Push is a batch of a child's outbox, continuing after the child's
// cursor After; or a page of the child's backfill (docs/federation.md):
// versions of its registry with their state, each an event of kind
// backfilled without a seq. Every page says its backfill's mark
// (BackfillMark): the seq of the child's outbox its states hold every
// change through. The last page says so too (BackfillThrough, the mark):
// the parent's cursor moves there.
type Push struct {
	Hub             string        `json:"hub"`
	After           int64         `json:"after"`
	Events          []PushedEvent `json:"events"`
	Backfill        []PushedEvent `json:"backfill,omitempty"`
	BackfillMark    int64         `json:"backfill_mark,omitempty"`
	BackfillThrough int64         `json:"backfill_through,omitempty"`
	// Types are the definitions of the types the events name: the
	// child's own, and for the copies it passes on those it received.
	// The parent keeps them to serve the copies (write agreements for
	// them, check their fields).
	Types []PushedType `json:"types,omitempty"`
}

// PushedType is a certificate type's definition as a push carries it.
type PushedType struct {
	Code              string                  `json:"code"`
	Name              string                  `json:"name"`
	DefiningAuthority string                  `json:"defining_authority"`
	HolderKind        certificates.HolderKind `json:"holder_kind"`
	Fields            []PushedField           `json:"fields"`
}

// PushedField is one field of a pushed type.
type PushedField struct {
	Name    string                 `json:"name"`
	Label   string                 `json:"label"`
	LabelEN string                 `json:"label_en,omitempty"`
	Type    certificates.FieldType `json:"type"`
}

// pushedType is what a push carries of a type.
func pushedType(t *certificates.Type) PushedType {
	pt := PushedType{Code: t.Code, Name: t.Name, DefiningAuthority: t.DefiningAuthority, HolderKind: t.HolderKind,
		Fields: make([]PushedField, 0, len(t.Fields))}
	for _, f := range t.Fields {
		pt.Fields = append(pt.Fields, PushedField{Name: f.Name, Label: f.Label, LabelEN: f.LabelEN, Type: f.Type})
	}
	return pt
}

// definition is the pushed type as a type definition, to validate and
// keep.
func (pt *PushedType) definition() certificates.Type {
	t := certificates.Type{Code: pt.Code, Name: pt.Name, DefiningAuthority: pt.DefiningAuthority, HolderKind: pt.HolderKind,
		Fields: make([]certificates.Field, 0, len(pt.Fields))}
	for _, f := range pt.Fields {
		t.Fields = append(t.Fields, certificates.Field{Name: f.Name, Label: f.Label, LabelEN: f.LabelEN, Type: f.Type})
	}
	return t
}

// PushAnswer says how far the parent has applied the child's outbox.
type PushAnswer struct {
	AppliedThrough int64 `json:"applied_through"`
	Applied        int   `json:"applied"`
	// RefusedTypes are the pushed definitions the parent did not keep
	// (the push itself is applied): a code that is one of the parent's
	// own types keeps the parent's definition.
	RefusedTypes []RefusedType `json:"refused_types,omitempty"`
}

// RefusedType is a pushed definition the parent did not keep, and why.
type RefusedType struct {
	Code   string `json:"code"`
	Reason string `json:"reason"`
}

// Version is a certificate version a child pushed, as this hub keeps it:
// read-only, marked with its home hub, the holder protected under this
// hub's own master key.
type Version struct {
	ID             string                  `json:"id"`
	HomeHub        string                  `json:"home_hub"`
	Lineage        string                  `json:"lineage"`
	Type           string                  `json:"type"`
	Authority      string                  `json:"authority"`
	Version        int                     `json:"version"`
	HolderKind     certificates.HolderKind `json:"holder_kind"`
	HolderIndex    string                  `json:"-"`
	HolderSealed   []byte                  `json:"-"`
	HolderName     string                  `json:"holder_name"`
	ValidFrom      certificates.Date       `json:"valid_from"`
	ValidUntil     certificates.Date       `json:"valid_until"`
	State          certificates.State      `json:"state"`
	StateReason    string                  `json:"state_reason,omitempty"`
	SupersededBy   string                  `json:"superseded_by,omitempty"`
	DocumentKey    string                  `json:"-"`
	DocumentOffset int64                   `json:"-"`
	DocumentLength int64                   `json:"-"` // 0: the whole object
	DocumentSHA256 string                  `json:"document_sha256"`
	KID            string                  `json:"kid"`
	IssuedAt       time.Time               `json:"issued_at"`
	UpdatedAt      time.Time               `json:"updated_at"`
}

// Record is the copy as a registry record, for judging its status
// (certificates.Service.Judge).
func (v *Version) Record() *certificates.Certificate {
	id, _ := certificates.ParseIdentifier(v.ID)
	return &certificates.Certificate{ID: v.ID, Ident: id, Type: v.Type, Authority: v.Authority, Serial: id.Serial, Version: v.Version,
		Holder: certificates.Holder{Kind: v.HolderKind, Name: v.HolderName}, ValidFrom: v.ValidFrom, ValidUntil: v.ValidUntil,
		State: v.State, StateReason: v.StateReason, SupersededBy: v.SupersededBy, DocumentSHA256: v.DocumentSHA256, KID: v.KID,
		IssuedAt: v.IssuedAt, UpdatedAt: v.UpdatedAt}
}

// Change is one pushed event to apply: the event (with its home hub), and
// for issued and revised the version.
type Change struct {
	Seq     int64
	Event   exchange.Event
	Version *Version
}

// AggregationStore keeps both halves of aggregation.
type AggregationStore interface {
	// LeaseAggregation takes (or keeps) the push lease and returns where
	// the push stands. false if another holds it.
	LeaseAggregation(ctx context.Context, owner string, now, until time.Time) (PushPlace, bool, error)
	// MoveAggregation sets the cursor if owner holds the lease.
	MoveAggregation(ctx context.Context, owner string, cursor int64) error
	// EventsAfter reads the outbox (exchange.EventStore).
	EventsAfter(ctx context.Context, seq int64, limit int, settledBefore time.Time) ([]*exchange.Event, error)
	// FederatedVersion reads a version a child pushed here.
	FederatedVersion(ctx context.Context, id string) (*Version, error)
	// ApplyPush applies the changes after this hub's cursor for hub, in
	// order, keeps the definitions of their types (replacing those kept
	// before), and moves the cursor, in one transaction. after is where
	// the push continues from: past the cursor, events would be missing,
	// and it is refused (errs.Conflict) with the cursor. It returns the
	// cursor and how many changes it applied.
	ApplyPush(ctx context.Context, hub string, after int64, changes []Change, types []*exchange.FederatedType, at time.Time) (int64, int, error)
	// InboxCursors says how far each child's outbox is applied.
	InboxCursors(ctx context.Context) (map[string]int64, error)
	// FederatedVersions lists the versions of a home hub's certificates
	// kept here, by id.
	FederatedVersions(ctx context.Context, hub string) ([]*Version, error)

	// StartBackfill records that the backfill begins at, with the
	// outbox's last seq as its mark, unless it began before; it returns
	// where the backfill stands.
	StartBackfill(ctx context.Context, at time.Time) (*Backfill, error)
	// RestartBackfill records that the backfill begins again at, for
	// reason: a new round, marked with the outbox's last seq, that scans
	// from the start. It needs no lease: the round it ends can no longer
	// be moved (MoveBackfill).
	RestartBackfill(ctx context.Context, at time.Time, reason string) (*Backfill, error)
	// MoveBackfill records how far the backfill went if owner holds the
	// push lease and b's round is still the backfill's (errs.Conflict
	// otherwise).
	MoveBackfill(ctx context.Context, owner string, b *Backfill) error
	// Backfill returns where the backfill stands (errs.NotFound before it
	// began).
	Backfill(ctx context.Context) (*Backfill, error)
	// PrunedThrough is the highest seq of this hub's outbox deleted by
	// pruning: every event after it that was committed is still held.
	PrunedThrough(ctx context.Context) (int64, error)
	// OwnVersionsAfter reads up to limit of this hub's own certificate
	// versions after seq, in seq order (HomeHub empty, no holder), and
	// the seq of each.
	OwnVersionsAfter(ctx context.Context, seq int64, limit int) ([]*Version, []int64, error)
	// CopiesAfter reads up to limit versions children pushed here, after
	// id in id order.
	CopiesAfter(ctx context.Context, id string, limit int) ([]*Version, error)
	// ApplyBackfill keeps each backfilled version that is not here yet and,
	// while this hub's cursor for hub is not past mark (the seq of the
	// child's outbox the page's states are read after), gives one held
	// here the state it carries when that differs; each version kept or
	// changed joins this hub's outbox as its event. It moves the cursor to
	// through if that is past it, in one transaction. after is as for
	// ApplyPush, and so are types. It returns the cursor and how many
	// versions it kept or changed.
	ApplyBackfill(ctx context.Context, hub string, after int64, versions []Change, types []*exchange.FederatedType, mark, through int64,
		at time.Time) (int64, int, error)
	// FederatedType reads the definition of a type a child pushed here
	// (errs.NotFound when none did): a push passes it on with the copies.
	FederatedType(ctx context.Context, code string) (*exchange.FederatedType, error)
	// FederatedByHolder lists the copies of a holder kept here (by this
	// hub's holder index), by id.
	FederatedByHolder(ctx context.Context, holderIndex string) ([]*Version, error)
}

// PushPlace is where the push to the parent stands, read with its lease.
type PushPlace struct {
	// Cursor is the last event of this hub's outbox the parent applied.
	Cursor int64
	// Backfilled says the backfill is done, and was not started over
	// since.
	Backfilled bool
}

// Aggregator pushes this hub's outbox to its parent.
type Aggregator struct {
	Service *Service
	Store   AggregationStore
	// Certs reads this hub's own documents; Documents the ones children
	// pushed (the same object store).
	Certs     *certificates.Service
	Documents certificates.DocumentStore
	// Owner names this replica for the lease.
	Owner string
	// Lease is how long a replica holds the push to itself without
	// renewing it (DefaultPushLease): a crashed replica's successor waits
	// at most this long. A push takes at most the client's timeouts.
	Lease time.Duration
	// Page is how many versions a page of the backfill carries at most
	// (0: 2,000).
	Page int

	// backfilling says the last push found the backfill not done: Run
	// goes on at once after a page.
	backfilling atomic.Bool
}

// DefaultPushLease is Aggregator.Lease's default: over twice the longest
// push (connect 2 s + answer 5 s).
const DefaultPushLease = 15 * time.Second

// PushOnce pushes one batch of the outbox to the parent and returns how
// many events the parent applied; until the backfill is done it pushes a
// page of the backfill instead (backfill.go) and returns its size. Nothing
// to do on the root, before init, or when another replica holds the lease.
func (a *Aggregator) PushOnce(ctx context.Context) (int, error) {
	s := a.Service
	self, err := s.loadSelf(ctx)
	if errs.Is(err, errs.NotFound) {
		return 0, nil
	}
	if err != nil || self.IsRoot() {
		return 0, err
	}
	now := s.now()
	lease := a.Lease
	if lease == 0 {
		lease = DefaultPushLease
	}
	place, ok, err := a.Store.LeaseAggregation(ctx, a.Owner, now, now.Add(lease))
	if err != nil || !ok {
		return 0, err
	}
	cursor := place.Cursor
	a.backfilling.Store(!place.Backfilled)
	if !place.Backfilled {
		if n, done, err := a.backfill(ctx, self, cursor); err != nil || !done {
			return n, err
		}
	}
	evs, err := a.Store.EventsAfter(ctx, cursor, aggregateBatch, now.Add(-exchange.EventSettle))
	if err != nil || len(evs) == 0 {
		return 0, err
	}
	push := Push{Hub: self.ID, After: cursor, Events: make([]PushedEvent, 0, len(evs))}
	var refs []docRef
	for _, e := range evs {
		pe := PushedEvent{Seq: e.Seq, Event: *e, Lineage: e.Lineage}
		switch e.Kind {
		case exchange.EventIssued, exchange.EventRevised, exchange.EventBackfilled:
			var ref docRef
			if pe.Version, ref, err = a.version(ctx, e); err != nil {
				return 0, err
			}
			refs = append(refs, ref)
		}
		push.Events = append(push.Events, pe)
	}
	docs, err := a.documents(ctx, refs)
	if err != nil {
		return 0, err
	}
	k, size := 0, 0
	for i := range push.Events {
		if pv := push.Events[i].Version; pv != nil {
			if size += len(docs[k]); size > backfillBytes && i > 0 {
				push.Events = push.Events[:i] // the rest goes in the next push
				break
			}
			pv.Document, k = string(docs[k]), k+1
		}
	}
	if push.Types, err = a.types(ctx, push.Events); err != nil {
		return 0, err
	}
	ans, applied, err := a.send(ctx, self, push)
	s.note(ctx, self.Parent, "push", err)
	if err != nil {
		return 0, err
	}
	a.refused(ctx, ans)
	if !applied {
		return 0, a.resync(ctx, self, cursor, ans.AppliedThrough, false)
	}
	if err := a.Store.MoveAggregation(ctx, a.Owner, ans.AppliedThrough); err != nil {
		return 0, err
	}
	return ans.Applied, nil
}

// version reads what a push carries of an issued, revised or backfilled
// version, but its document: where that is.
func (a *Aggregator) version(ctx context.Context, e *exchange.Event) (*PushedVersion, docRef, error) {
	if e.HomeHub == "" {
		c, err := a.Certs.Get(ctx, e.CertificateID)
		if err != nil {
			return nil, docRef{}, errs.Wrap(err, "certificate %s for aggregation", e.CertificateID)
		}
		return &PushedVersion{ValidFrom: c.ValidFrom, ValidUntil: c.ValidUntil, KID: c.KID, IssuedAt: c.IssuedAt},
			docRef{id: c.ID, key: c.DocumentKey, offset: c.DocumentOffset, length: c.DocumentLength, sha256: c.DocumentSHA256}, nil
	}
	v, err := a.Store.FederatedVersion(ctx, e.CertificateID)
	if err != nil {
		return nil, docRef{}, errs.Wrap(err, "version %s of hub %s for aggregation", e.CertificateID, e.HomeHub)
	}
	pv := &PushedVersion{ValidFrom: v.ValidFrom, ValidUntil: v.ValidUntil, KID: v.KID, IssuedAt: v.IssuedAt}
	if e.Kind == exchange.EventBackfilled {
		// Its state as this hub holds it now: any later change is an event
		// after this one in the outbox, and is applied after it.
		pv.State, pv.StateReason, pv.SupersededBy = v.State, v.StateReason, v.SupersededBy
	}
	return pv, v.documentRef(), nil
}

// types are the definitions of the types events name: this hub's own, or
// for a copy it passes on the definition its child pushed. A copy
// aggregated before definitions travelled has none here; its type is left
// out, and the parent serves it when a later push brings it.
func (a *Aggregator) types(ctx context.Context, events []PushedEvent) ([]PushedType, error) {
	var out []PushedType
	seen := map[string]bool{}
	for _, pe := range events {
		code := pe.Event.Type
		if seen[code] {
			continue
		}
		seen[code] = true
		t, err := a.Certs.Type(ctx, code)
		if errs.Is(err, errs.NotFound) {
			var ft *exchange.FederatedType
			if ft, err = a.Store.FederatedType(ctx, code); err == nil {
				t = &ft.Type
			}
		}
		if errs.Is(err, errs.NotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, pushedType(t))
	}
	return out, nil
}

// refused logs the definitions the parent did not keep: its own types of
// the same codes win, and its consumers' agreements use those.
func (a *Aggregator) refused(ctx context.Context, ans *PushAnswer) {
	for _, rt := range ans.RefusedTypes {
		if a.Service.Log != nil {
			a.Service.Log.WarnContext(ctx, "federation push: the parent did not keep a type definition", "type", rt.Code, "reason", rt.Reason)
		}
	}
}

// send pushes and returns the parent's answer, and whether it applied the
// push (false: it refused it with 409 and says where its cursor is).
func (a *Aggregator) send(ctx context.Context, self *Self, push Push) (*PushAnswer, bool, error) {
	body, err := json.Marshal(push)
	if err != nil {
		return nil, false, err
	}
	sig, err := a.Service.Key.SignDetached(body)
	if err != nil {
		return nil, false, err
	}
	url := strings.TrimRight(self.ParentURL, "/") + AggregatePath
	st, status, b, err := a.Service.roundTrip(ctx, self.Parent, http.MethodPost, url, body,
		http.Header{HubHeader: {self.ID}, SignatureHeader: {sig}}, 1<<20)
	if err != nil {
		return nil, false, err
	}
	switch st {
	case http.StatusOK, http.StatusConflict:
		// 409: the parent applied up to another point (it lost its state,
		// or this hub's cursor is behind); continue from there.
		var wrapped struct {
			PushAnswer
			Error struct {
				AppliedThrough *int64 `json:"applied_through"`
			} `json:"error"`
		}
		if err := json.Unmarshal(b, &wrapped); err != nil {
			return nil, false, &RemoteError{Hub: self.Parent, Err: fmt.Errorf("push answer: %w", err)}
		}
		if st == http.StatusOK {
			return &wrapped.PushAnswer, true, nil
		}
		if wrapped.Error.AppliedThrough == nil {
			return nil, false, &RemoteError{Hub: self.Parent, Err: fmt.Errorf("push refused: %s", b)}
		}
		return &PushAnswer{AppliedThrough: *wrapped.Error.AppliedThrough}, false, nil
	}
	return nil, false, farError(self.Parent, http.MethodPost, url, status, b)
}

// Run pushes until ctx ends: at once again after a full batch (catching
// up), else every interval.
func (a *Aggregator) Run(ctx context.Context, every time.Duration) {
	for {
		n, err := a.PushOnce(ctx)
		if err != nil && ctx.Err() == nil && a.Service.Log != nil {
			a.Service.Log.WarnContext(ctx, "federation push", "error", err.Error())
		}
		if err == nil && (n >= aggregateBatch || n > 0 && a.backfilling.Load()) {
			continue // catching up, or a page of the backfill pushed
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// PushConflict is the answer to a push that does not continue from where
// this hub applied that child's outbox.
type PushConflict struct {
	AppliedThrough int64
}

func (c *PushConflict) Error() string {
	return fmt.Sprintf("this hub applied that outbox through %d; push from there", c.AppliedThrough)
}

// Pusher returns the admitted child hub that may push here, before its
// push's body is read: errs.Forbidden for any other hub.
func (s *Service) Pusher(ctx context.Context, hub string) (*Child, error) {
	if s.Inbox == nil {
		return nil, errs.E(errs.Unavailable, "this hub keeps no aggregated certificates")
	}
	children, err := s.Store.Children(ctx)
	if err != nil {
		return nil, err
	}
	for _, c := range children {
		if c.ID == hub {
			return c, nil
		}
	}
	return nil, errs.E(errs.Forbidden, "hub %q is not a child of this hub", hub)
}

// Receive checks a child's push (the signature by a key it was admitted
// with, every event of its own region) and applies it.
func (s *Service) Receive(ctx context.Context, hub, signature string, body []byte) (*PushAnswer, error) {
	child, err := s.Pusher(ctx, hub)
	if err != nil {
		return nil, err
	}
	if err := verifyDetached(signature, body, &child.Hub); err != nil {
		_ = s.record(ctx, "federation_push", "hub:"+hub, child.Name, "refused: "+err.Error())
		return nil, errs.E(errs.Unauthorized, "the push is not signed by hub %s: %v", hub, err)
	}
	var p Push
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, errs.Field("body", "not a push: %v", err)
	}
	if p.Hub != hub {
		return nil, errs.Field("hub", "the push names hub %q, its signature is hub %s's", p.Hub, hub)
	}
	backfill := len(p.Backfill) > 0 || p.BackfillThrough != 0 || p.BackfillMark != 0
	if backfill && len(p.Events) > 0 {
		return nil, errs.Field("backfill", "a push carries events or a page of the backfill, not both")
	}
	if p.BackfillThrough < 0 {
		return nil, errs.Field("backfill_through", "%d is not a seq of the outbox", p.BackfillThrough)
	}
	if p.BackfillMark < 0 || p.BackfillThrough != 0 && p.BackfillMark != 0 && p.BackfillMark != p.BackfillThrough {
		return nil, errs.Field("backfill_mark", "%d is not a seq of the outbox, or not the backfill_through of the last page", p.BackfillMark)
	}
	// A page without its mark (a child from before marks were sent) is
	// taken as marked at 0, or at its backfill_through: a held version
	// then takes its state only while nothing of the child was applied
	// past that, which is never later than its real mark.
	mark := max(p.BackfillMark, p.BackfillThrough)
	now := s.now().UTC()
	refuse := func(field string, seq int64, err error) error {
		_ = s.record(ctx, "federation_push", "hub:"+hub, child.Name, fmt.Sprintf("refused: %s (seq %d): %v", field, seq, err))
		return errs.Field(field, "%v", err)
	}
	changes := make([]Change, 0, len(p.Events)+len(p.Backfill))
	var docs [][]byte
	prev := p.After
	for i, pe := range p.Events {
		if pe.Seq <= prev {
			return nil, errs.Field(fmt.Sprintf("events[%d].seq", i), "%d is not after %d: a push is in outbox order", pe.Seq, prev)
		}
		prev = pe.Seq
		ch, doc, err := s.change(child, pe, now)
		if err != nil {
			return nil, refuse(fmt.Sprintf("events[%d]", i), pe.Seq, err)
		}
		changes, docs = append(changes, ch), append(docs, doc)
	}
	inPage := make(map[string]bool, len(p.Backfill))
	for i, pe := range p.Backfill {
		var err error
		switch {
		case inPage[pe.Event.CertificateID]:
			err = fmt.Errorf("event.certificate_id: %s is in the page twice", pe.Event.CertificateID)
		case pe.Seq != 0:
			err = fmt.Errorf("seq: a backfilled version is not an event of the outbox and has none")
		case pe.Event.Kind != exchange.EventBackfilled:
			err = fmt.Errorf("event.kind: %q, a page of the backfill holds %s versions only", pe.Event.Kind, exchange.EventBackfilled)
		}
		var ch Change
		var doc []byte
		if err == nil {
			ch, doc, err = s.change(child, pe, now)
		}
		if err != nil {
			return nil, refuse(fmt.Sprintf("backfill[%d]", i), 0, err)
		}
		inPage[pe.Event.CertificateID] = true
		changes, docs = append(changes, ch), append(docs, doc)
	}
	types, refused, err := s.pushedTypes(ctx, p.Types, changes, now)
	if err != nil {
		var fe *errs.Error
		if errors.As(err, &fe) && fe.Code == errs.Invalid {
			_ = s.record(ctx, "federation_push", "hub:"+hub, child.Name, "refused: "+fe.Error())
		}
		return nil, err
	}
	batch, present, err := s.keepDocuments(ctx, hub, changes, docs)
	if err != nil {
		return nil, err
	}
	var through int64
	var n int
	if backfill {
		through, n, err = s.Inbox.ApplyBackfill(ctx, hub, p.After, changes, types, mark, p.BackfillThrough, now)
	} else {
		through, n, err = s.Inbox.ApplyPush(ctx, hub, p.After, changes, types, now)
	}
	if errs.Is(err, errs.Conflict) {
		return nil, &PushConflict{AppliedThrough: through}
	}
	if err != nil {
		return nil, err
	}
	if present {
		// The batch was there already (a push sent again): it may be an
		// orphan the sweep deleted before the rows above committed.
		if err := certificates.PutAgain(ctx, s.Documents, batch.key, batch.data); err != nil {
			return nil, err
		}
	}
	return &PushAnswer{AppliedThrough: through, Applied: n, RefusedTypes: refused}, nil
}

// pushedTypes checks a push's type definitions: each of a type an event
// of the push names (so of the child or a hub under it), at most once,
// and a valid definition (code, names, labels as text, field names and
// types). A code that is one of this hub's own types is not kept, and is
// answered in RefusedTypes: own types win. A definition that fails refuses
// the push, which changes nothing.
func (s *Service) pushedTypes(ctx context.Context, pts []PushedType, changes []Change, now time.Time) ([]*exchange.FederatedType, []RefusedType, error) {
	if len(pts) == 0 {
		return nil, nil, nil
	}
	homes := map[string]string{} // type code → the home hub of an event of it
	for _, ch := range changes {
		if _, ok := homes[ch.Event.Type]; !ok {
			homes[ch.Event.Type] = ch.Event.HomeHub
		}
	}
	own := map[string]bool{}
	if s.Catalog != nil {
		ts, err := s.Catalog.ListTypes(ctx)
		if err != nil {
			return nil, nil, err
		}
		for _, t := range ts {
			own[t.Code] = true
		}
	}
	var l errs.List
	var out []*exchange.FederatedType
	var refused []RefusedType
	seen := map[string]bool{}
	for i, pt := range pts {
		at := fmt.Sprintf("types[%d]", i)
		home, named := homes[pt.Code]
		switch {
		case seen[pt.Code]:
			l.Add(at+".code", "type %s is defined twice in one push", pt.Code)
			continue
		case !named:
			l.Add(at+".code", "no event of this push is of type %q: a push defines only the types its events name", pt.Code)
			continue
		}
		seen[pt.Code] = true
		t := pt.definition()
		if err := t.Validate(); err != nil {
			var fe *errs.Error
			if !errors.As(err, &fe) {
				return nil, nil, err
			}
			for _, f := range fe.Fields {
				l.Add(at+"."+f.Field, "%s", f.Reason)
			}
			continue
		}
		if own[pt.Code] {
			refused = append(refused, RefusedType{Code: pt.Code,
				Reason: fmt.Sprintf("type %s is one of this hub's own types: its own definition is kept, a pushed one never replaces it", pt.Code)})
			continue
		}
		out = append(out, &exchange.FederatedType{HomeHub: home, Type: t, UpdatedAt: now})
	}
	return out, refused, l.Err()
}

// keepDocuments writes a push's documents as one object, each the byte
// range its version records (as the bulk path's batch objects), before
// the rows that point at it are committed: a failure between leaves only
// an unreachable object. The key is the object's hash, so a push sent
// again writes nothing new: present says the object was there already.
func (s *Service) keepDocuments(ctx context.Context, hub string, changes []Change, docs [][]byte) (kept keptObject, present bool, err error) {
	var object bytes.Buffer
	for i, ch := range changes {
		if ch.Version == nil {
			continue
		}
		ch.Version.DocumentOffset, ch.Version.DocumentLength = int64(object.Len()), int64(len(docs[i]))
		object.Write(docs[i])
		object.WriteByte('\n')
	}
	if object.Len() == 0 {
		return kept, false, nil
	}
	sum := sha256.Sum256(object.Bytes())
	key := "federated/" + hub + "/batches/" + hex.EncodeToString(sum[:16]) + ".jwsl"
	for _, ch := range changes {
		if ch.Version != nil {
			ch.Version.DocumentKey = key
		}
	}
	kept = keptObject{key: key, data: object.Bytes()}
	err = s.Documents.Put(ctx, key, kept.data)
	if errs.Is(err, errs.Conflict) {
		return kept, true, nil
	}
	return kept, false, err
}

// keptObject is the batch object of a push.
type keptObject struct {
	key  string
	data []byte
}

// change turns a pushed event into what is stored, and the version's
// document: checked against the child's region, the version's document
// parsed for the holder (whose id is indexed and sealed under this hub's
// own key). A backfilled version keeps the state it was pushed with.
func (s *Service) change(child *Child, pe PushedEvent, now time.Time) (Change, []byte, error) {
	e := pe.Event
	e.Seq, e.Lineage = 0, pe.Lineage
	if e.HomeHub == "" {
		e.HomeHub = child.ID
	}
	if e.HomeHub != child.ID && !(Within(e.HomeHub, child.ID) && ValidHubID(e.HomeHub) == nil) {
		return Change{}, nil, fail(OutsideRegion, child.ID, "event of hub %s, which is not hub %s nor under it", e.HomeHub, child.ID)
	}
	r, err := AuthorityRegion(e.Authority)
	if err != nil || !Within(r, e.HomeHub) {
		return Change{}, nil, fail(OutsideRegion, e.HomeHub, "authority %q is not of hub %s's region", e.Authority, e.HomeHub)
	}
	id, err := certificates.ParseIdentifier(e.CertificateID)
	if err != nil || id.Issuer != e.Authority || id.TypeCode != e.Type || id.Version != e.Version || id.Lineage() != pe.Lineage {
		return Change{}, nil, fmt.Errorf("certificate_id %q does not agree with the event's type, authority, version and lineage", e.CertificateID)
	}
	if e.ID == "" || e.At.IsZero() {
		return Change{}, nil, fmt.Errorf("an event needs its id and occurred_at")
	}
	ch := Change{Seq: pe.Seq, Event: e}
	wantVersion := e.Kind == exchange.EventIssued || e.Kind == exchange.EventRevised || e.Kind == exchange.EventBackfilled
	if wantVersion != (pe.Version != nil) {
		return Change{}, nil, fmt.Errorf("a %s event carries a version exactly when it is issued, revised or backfilled", e.Kind)
	}
	if !wantVersion {
		return ch, nil, nil
	}
	v, doc := pe.Version, []byte(pe.Version.Document)
	state, err := pushedState(e, id, v)
	if err != nil {
		return Change{}, nil, err
	}
	holder, err := documentHolder(doc, e.CertificateID)
	if err != nil {
		return Change{}, nil, err
	}
	if s.Vault == nil || s.Documents == nil {
		return Change{}, nil, errs.E(errs.Unavailable, "this hub cannot keep aggregated certificates (no vault or document store)")
	}
	sum := sha256.Sum256(doc)
	ch.Version = &Version{ID: e.CertificateID, HomeHub: e.HomeHub, Lineage: pe.Lineage, Type: e.Type, Authority: e.Authority, Version: e.Version,
		HolderKind: holder.Kind, HolderIndex: s.Vault.Index(string(holder.Kind), holder.ID), HolderSealed: s.Vault.Seal(string(holder.Kind), holder.ID),
		HolderName: holder.Name, ValidFrom: v.ValidFrom, ValidUntil: v.ValidUntil, State: state, StateReason: v.StateReason,
		SupersededBy: v.SupersededBy, DocumentSHA256: hex.EncodeToString(sum[:]), KID: v.KID, IssuedAt: v.IssuedAt.UTC(), UpdatedAt: now}
	return ch, doc, nil
}

// pushedState checks the state a pushed version carries: only a
// backfilled one has one (an issued or revised version is valid), and a
// superseded one names the later version of its lineage that superseded
// it.
func pushedState(e exchange.Event, id certificates.Identifier, v *PushedVersion) (certificates.State, error) {
	if e.Kind != exchange.EventBackfilled {
		if v.State != "" || v.StateReason != "" || v.SupersededBy != "" {
			return "", fmt.Errorf("version.state: only a backfilled version carries its state; a %s one is valid", e.Kind)
		}
		return certificates.StateValid, nil
	}
	switch v.State {
	case certificates.StateValid, certificates.StateSuspended, certificates.StateRevoked:
		if v.SupersededBy != "" {
			return "", fmt.Errorf("version.superseded_by: a %s version is superseded by nothing", v.State)
		}
	case certificates.StateSuperseded:
		next, err := certificates.ParseIdentifier(v.SupersededBy)
		if err != nil || next.Lineage() != id.Lineage() || next.Version <= id.Version {
			return "", fmt.Errorf("version.superseded_by: %q is not a later version of %s", v.SupersededBy, e.CertificateID)
		}
	default:
		return "", fmt.Errorf("version.state: %q is not valid, suspended, revoked or superseded", v.State)
	}
	return v.State, nil
}

// documentHolder reads the holder from a document's payload and checks
// that the document is the version it is pushed as. The push is signed by
// the child; the document's own seal is the issuing authority's, checked
// with the child's trust list wherever it is verified.
func documentHolder(doc []byte, id string) (certificates.Holder, error) {
	var c struct {
		ID                string `json:"id"`
		CredentialSubject struct {
			Holder certificates.Holder `json:"holder"`
		} `json:"credentialSubject"`
	}
	if _, err := Peek(string(doc), &c); err != nil {
		return certificates.Holder{}, fmt.Errorf("the document of %s: %v", id, err)
	}
	if c.ID != id {
		return certificates.Holder{}, fmt.Errorf("the document pushed as %s is %q", id, c.ID)
	}
	h := c.CredentialSubject.Holder
	if h.ID == "" || h.Name == "" || (h.Kind != certificates.Person && h.Kind != certificates.Organisation) {
		return certificates.Holder{}, fmt.Errorf("the document of %s names no holder", id)
	}
	return h, nil
}

// verifyDetached checks a detached-payload JWS (HubKey.SignDetached) over
// body by a key h lists.
func verifyDetached(sig string, body []byte, h *Hub) error {
	msg, err := jws.Parse([]byte(sig), jws.WithCompact())
	if err != nil || len(msg.Signatures()) != 1 {
		return fmt.Errorf("the signature is not a compact JWS")
	}
	kid, _ := msg.Signatures()[0].ProtectedHeaders().KeyID()
	for _, k := range h.Keys {
		if k.KID != kid || !verifies(k.State) {
			continue
		}
		pub, err := signing.ParseHubPublicKey(k.JWK)
		if err != nil {
			return err
		}
		_, err = jws.Verify([]byte(sig), jws.WithKey(jwa.EdDSA(), pub), jws.WithDetachedPayload(body))
		return err
	}
	return fmt.Errorf("no key %q", kid)
}
