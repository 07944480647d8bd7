package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/filestore"
	"github.com/certhub/certhub/internal/sqlstore"
	"github.com/certhub/certhub/signing"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// testStatusAllocation: lists fill exactly, in a random order, and the next
// list opens when one is full; bad sizes change nothing.
func testStatusAllocation(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	_, err := s.AllocateStatus(ctx, 100, 1, t0)
	mustCode(t, errs.Invalid, err)
	_, err = s.AllocateStatus(ctx, 1024, 0, t0)
	mustCode(t, errs.Invalid, err)
	_, _, err = s.StatusEntries(ctx, 1)
	mustCode(t, errs.NotFound, err)

	var refs []certificates.StatusRef
	for _, n := range []int{1, 700, 323, 1000, 100} { // 2124 entries: lists 1 and 2 full, 76 taken of list 3
		got, err := s.AllocateStatus(ctx, 1024, n, t0)
		must(t, err)
		if len(got) != n {
			t.Fatalf("asked for %d entries, got %d", n, len(got))
		}
		refs = append(refs, got...)
	}
	perList := map[int]map[int]bool{}
	sequential := 0
	for i, r := range refs {
		if perList[r.List] == nil {
			perList[r.List] = map[int]bool{}
		}
		if perList[r.List][r.Index] {
			t.Fatalf("entry %d/%d handed out twice", r.List, r.Index)
		}
		if r.Index < 0 || r.Index >= 1024 {
			t.Fatalf("index %d outside the list", r.Index)
		}
		perList[r.List][r.Index] = true
		if i > 0 && refs[i-1].List == r.List && refs[i-1].Index+1 == r.Index {
			sequential++
		}
	}
	if len(perList[1]) != 1024 || len(perList[2]) != 1024 || len(perList[3]) != 76 {
		t.Fatalf("entries per list: %d, %d, %d", len(perList[1]), len(perList[2]), len(perList[3]))
	}
	if sequential > 10 {
		t.Fatalf("%d of %d entries follow their predecessor", sequential, len(refs))
	}
	// A list keeps the size it was opened with.
	got, err := s.AllocateStatus(ctx, 2048, 1, t0)
	must(t, err)
	if got[0].List != 3 {
		t.Fatalf("with room in list 3 the next entry went to list %d", got[0].List)
	}
	size, entries, err := s.StatusEntries(ctx, 3)
	must(t, err)
	if size != 1024 || len(entries) != 0 {
		t.Fatalf("list 3: size %d, %d entries set", size, len(entries))
	}
}

// testStatusReplicas: writers allocating at once (replicas) never get the
// same entry, and take exactly what they asked for.
func testStatusReplicas(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	const writers, each = 8, 25
	var mu sync.Mutex
	seen := map[certificates.StatusRef]bool{}
	var wg sync.WaitGroup
	errc := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				got, err := s.AllocateStatus(ctx, 64, 3, t0)
				if err != nil {
					errc <- err
					return
				}
				mu.Lock()
				for _, r := range got {
					if seen[r] {
						errc <- fmt.Errorf("entry %+v handed out twice", r)
					}
					seen[r] = true
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if len(seen) != writers*each*3 {
		t.Fatalf("%d distinct entries, want %d", len(seen), writers*each*3)
	}
	// 600 entries of 64 per list: lists 1..9 full, 24 of list 10.
	for list := 1; list <= 10; list++ {
		if _, _, err := s.StatusEntries(ctx, list); err != nil {
			t.Fatalf("list %d: %v", list, err)
		}
	}
	_, _, err := s.StatusEntries(ctx, 11)
	mustCode(t, errs.NotFound, err)
}

// testStatusEntries: a version's entry is stored with it (one insert,
// batch insert, revision), read back, unique, and StatusEntries reports
// every version that is not valid with its state.
func testStatusEntries(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	SeedCatalog(t, s)
	refs, err := s.AllocateStatus(ctx, 1024, 5, t0)
	must(t, err)
	old := NewCert("000009", 1, "h") // from before status lists
	must(t, s.InsertCertificate(ctx, old, nil))
	v1 := NewCert("000001", 1, "h")
	v1.Status = &refs[0]
	must(t, s.InsertCertificate(ctx, v1, nil))
	var batch []*certificates.Certificate
	for i := 2; i <= 3; i++ {
		c := NewCert(fmt.Sprintf("%06d", i), 1, "h")
		c.Status = &refs[i-1]
		batch = append(batch, c)
	}
	must(t, s.InsertCertificates(ctx, batch))
	// The same entry twice is refused, and the version is not stored.
	dup := NewCert("000004", 1, "h")
	dup.Status = &refs[0]
	mustCode(t, errs.Conflict, s.InsertCertificate(ctx, dup, nil))
	_, err = s.GetCertificate(ctx, dup.ID)
	mustCode(t, errs.NotFound, err)

	for _, c := range []*certificates.Certificate{v1, batch[0], batch[1]} {
		got, err := s.GetCertificate(ctx, c.ID)
		must(t, err)
		if got.Status == nil || *got.Status != *c.Status {
			t.Fatalf("%s: status entry %+v, want %+v", c.ID, got.Status, c.Status)
		}
	}
	got, err := s.GetCertificate(ctx, old.ID)
	must(t, err)
	if got.Status != nil {
		t.Fatalf("a version from before status lists has entry %+v", got.Status)
	}

	later := t0.Add(time.Hour)
	v2 := NewCert("000001", 2, "h")
	v2.Status = &refs[3]
	must(t, s.Supersede(ctx, v1.ID, v2))
	_, err = s.SetState(ctx, batch[0].ID, []certificates.State{certificates.StateValid}, certificates.StateRevoked, "r", later, nil)
	must(t, err)
	_, err = s.SetState(ctx, batch[1].ID, []certificates.State{certificates.StateValid}, certificates.StateSuspended, "s", later, nil)
	must(t, err)
	_, err = s.SetState(ctx, old.ID, []certificates.State{certificates.StateValid}, certificates.StateRevoked, "r", later, nil)
	must(t, err)
	size, entries, err := s.StatusEntries(ctx, refs[0].List)
	must(t, err)
	want := map[int]certificates.State{refs[0].Index: certificates.StateSuperseded, refs[1].Index: certificates.StateRevoked,
		refs[2].Index: certificates.StateSuspended}
	if size != 1024 || len(entries) != len(want) {
		t.Fatalf("size %d, entries %+v; want %v", size, entries, want)
	}
	for i, e := range entries {
		if want[e.Index] != e.State || (i > 0 && entries[i-1].Index >= e.Index) {
			t.Fatalf("entries %+v; want %v in index order", entries, want)
		}
	}
	// Reinstating clears the entry again.
	_, err = s.SetState(ctx, batch[1].ID, []certificates.State{certificates.StateSuspended}, certificates.StateValid, "ok", later, nil)
	must(t, err)
	_, entries, err = s.StatusEntries(ctx, refs[0].List)
	must(t, err)
	if len(entries) != 2 {
		t.Fatalf("after reinstating: %+v", entries)
	}
}

// testStatusIssuance issues 10,000 versions through the service (bulk
// issue, one issue, a revision): every one gets its own entry, the indexes
// are not sequential, and each document carries its entry in both forms.
func testStatusIssuance(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	const authCode = "11330100MB0000001R"
	const typeCode = authCode + "001"
	const public = "https://hub.example.gov.cn"
	master, err := signing.GenerateMasterKey()
	must(t, err)
	keys, err := signing.NewManager(s, map[string]signing.Backend{"local": signing.NewLocalBackend(master)}, "local", time.Now)
	must(t, err)
	docs, err := filestore.Open(t.TempDir())
	must(t, err)
	loc, err := time.LoadLocation("Asia/Shanghai")
	must(t, err)
	svc := &certificates.Service{Store: s, Documents: docs, Keys: keys, Vault: signing.NewVault(master), Now: time.Now, Location: loc,
		PublicURL: public, StatusListSize: 8192}
	must(t, svc.CreateAuthority(ctx, &certificates.Authority{Code: authCode, Name: "某市市场监督管理局"}, "EdDSA"))
	must(t, svc.CreateType(ctx, &certificates.Type{Code: typeCode, Name: "食品经营许可证", DefiningAuthority: authCode,
		HolderKind: certificates.Organisation,
		Fields:     []certificates.Field{{Name: "address", Label: "经营场所", Type: certificates.FieldString, Required: true}}}))
	from, _ := certificates.ParseDate("2026-01-01")
	req := func(i int) *certificates.IssueRequest {
		return &certificates.IssueRequest{Type: typeCode, Authority: authCode,
			Holder: certificates.Holder{Kind: certificates.Organisation, ID: "91350100M000100Y43", Name: "某某餐饮有限公司"},
			Data:   map[string]any{"address": fmt.Sprintf("人民路%d号", i)}, ValidFrom: from}
	}
	var all []*certificates.Certificate
	for start := 0; start < 9998; start += 2000 {
		var reqs []*certificates.IssueRequest
		for i := start; i < min(start+2000, 9998); i++ {
			reqs = append(reqs, req(i))
		}
		res, err := svc.IssueBatch(ctx, certificates.Scope{}, reqs)
		must(t, err)
		for _, r := range res {
			must(t, r.Err)
			all = append(all, r.Certificate)
		}
	}
	one, err := svc.Issue(ctx, certificates.Scope{}, req(9998), nil)
	must(t, err)
	rev, err := svc.Revise(ctx, certificates.Scope{}, one.Certificate.ID, &certificates.ReviseRequest{Data: map[string]any{"address": "解放路1号"}})
	must(t, err)
	all = append(all, one.Certificate, rev.Certificate)
	if len(all) != 10000 {
		t.Fatalf("%d versions", len(all))
	}
	seen := map[certificates.StatusRef]bool{}
	sequential, lists := 0, map[int]int{}
	for i, c := range all {
		if c.Status == nil {
			t.Fatalf("%s has no status entry", c.ID)
		}
		if seen[*c.Status] {
			t.Fatalf("entry %+v given to two versions", *c.Status)
		}
		seen[*c.Status] = true
		lists[c.Status.List]++
		if i > 0 && all[i-1].Status.List == c.Status.List && all[i-1].Status.Index+1 == c.Status.Index {
			sequential++
		}
	}
	// 10,000 in lists of 8,192: the first fills exactly, the second opens.
	if lists[1] != 8192 || lists[2] != 10000-8192 {
		t.Fatalf("versions per list: %v", lists)
	}
	if sequential > 20 {
		t.Fatalf("%d of 10,000 indexes follow their predecessor", sequential)
	}
	// The stored rows and the documents agree with what was handed out.
	for _, c := range []*certificates.Certificate{all[0], all[4321], one.Certificate, rev.Certificate} {
		stored, err := svc.Get(ctx, c.ID)
		must(t, err)
		if stored.Status == nil || *stored.Status != *c.Status {
			t.Fatalf("%s stored with %+v, issued with %+v", c.ID, stored.Status, c.Status)
		}
		_, doc, err := svc.Document(ctx, c.ID)
		must(t, err)
		msg, err := jws.Parse(doc)
		must(t, err)
		var p struct {
			CredentialStatus []map[string]string `json:"credentialStatus"`
			Status           struct {
				StatusList struct {
					Idx int    `json:"idx"`
					URI string `json:"uri"`
				} `json:"status_list"`
			} `json:"status"`
		}
		must(t, json.Unmarshal(msg.Payload(), &p))
		idx := fmt.Sprint(c.Status.Index)
		bsl := fmt.Sprintf("%s/status/bsl/%d-", public, c.Status.List)
		if len(p.CredentialStatus) != 2 || p.CredentialStatus[0]["statusPurpose"] != "revocation" ||
			p.CredentialStatus[1]["statusPurpose"] != "suspension" || p.CredentialStatus[0]["statusListIndex"] != idx ||
			p.CredentialStatus[0]["statusListCredential"] != bsl+"revocation" || p.CredentialStatus[1]["id"] != bsl+"suspension#"+idx ||
			p.Status.StatusList.Idx != c.Status.Index || p.Status.StatusList.URI != fmt.Sprintf("%s/status/tsl/%d", public, c.Status.List) {
			t.Fatalf("%s: document status %s", c.ID, strings.TrimSpace(string(msg.Payload())))
		}
		v, err := svc.VerifyDocument(ctx, doc)
		must(t, err)
		if c != one.Certificate && !v.Valid {
			t.Fatalf("%s does not verify: %v", c.ID, v.Reasons)
		}
	}
}
