// Command soakgen drives the soak (bench/soak.sh): open-loop traffic at
// fixed rates per operation — issuance, consumer lookups, verifications,
// share views — spread over the hub's replicas, with a webhook receiver
// that checks every delivery's signature. Every few seconds it samples
// each replica's RSS and goroutines and each operation's p99 and errors;
// at the end it reconciles the run's issuances against PostgreSQL, judges
// whether memory and goroutines stayed flat, writes soak.csv, soak-rss.svg,
// soak-p99.svg and summary.json, and exits 1 when a check fails.
//
//	soakgen -replica http://127.0.0.1:18101@PID -replica http://127.0.0.1:18102@PID \
//	  -tokens DATA/demo-tokens.json -admin TOKEN -share /s/TOKEN -dsn "$CERTHUB_DATABASE_URL" -duration 30m -out DIR
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type replicaFlag []replica

func (f *replicaFlag) String() string { return fmt.Sprint(*f) }
func (f *replicaFlag) Set(v string) error {
	u, p, ok := strings.Cut(v, "@")
	pid, err := strconv.Atoi(p)
	if !ok || err != nil || u == "" {
		return errors.New("want URL@PID")
	}
	*f = append(*f, replica{url: strings.TrimRight(u, "/"), pid: pid})
	return nil
}

// demoTokens is the part of <data>/demo-tokens.json (certhub demo) used here.
type demoTokens struct {
	Tokens []struct {
		Role      string `json:"role"`
		Authority string `json:"authority"`
		Token     string `json:"token"`
	}
	SampleOrg struct{ USCC string }
	SampleIDs []string
}

func main() {
	var reps replicaFlag
	flag.Var(&reps, "replica", "a hub replica as URL@PID (repeat; requests are spread round-robin)")
	tokensPath := flag.String("tokens", "", "the demo's demo-tokens.json (issuer and consumer tokens, sample ids)")
	admin := flag.String("admin", "", "admin token (reads the demo documents to verify)")
	share := flag.String("share", "", "share link (its path /s/<token> is opened on every replica)")
	dsn := flag.String("dsn", os.Getenv("CERTHUB_DATABASE_URL"), "PostgreSQL URL of the hub's store, for reconciliation")
	duration := flag.Duration("duration", 30*time.Minute, "how long to send load")
	every := flag.Duration("every", 5*time.Second, "sampling window")
	warm := flag.Duration("warmup", 0, "samples before this are not judged for growth (0: 10 % of the duration, at least two windows)")
	drain := flag.Duration("drain", 90*time.Second, "after the load, how long webhooks may take to arrive")
	issueRate := flag.Float64("issue", 10, "issuances a second")
	lookupRate := flag.Float64("lookup", 50, "consumer lookups a second")
	verifyRate := flag.Float64("verify", 100, "verifications a second")
	shareRate := flag.Float64("share-views", 25, "share views a second")
	maxInFlight := flag.Int64("max-in-flight", 2000, "requests waiting at once beyond which a request is not sent (an error)")
	holders := flag.Int("holders", 5000, "organisations the issuances are spread over")
	prefix := flag.String("prefix", "", "permit number prefix of the run (default SK + the start time)")
	rssGrowth := flag.Float64("rss-growth", 0.25, "largest allowed RSS growth, first to last quarter median")
	gorGrowth := flag.Float64("goroutine-growth", 0.20, "largest allowed growth of the goroutines at rest (before the load, after it), relative …")
	gorAbs := flag.Float64("goroutine-abs", 50, "… or absolute, whichever is larger")
	revokeRate := flag.Float64("revoke", 1, "revocation probes a second: issue, revoke, verify on another replica until revoked (never valid 1 s after)")
	s3Fault := flag.String("s3-fault", "", "control URL of bench/s3fault in front of the object store: it answers 503 for -fault-hold at 45 % of the run")
	standby := flag.String("standby-dsn", "", "PostgreSQL URL of the read replica: WAL replay is paused for -fault-hold at 60 % of the run")
	dropListen := flag.Bool("drop-listeners", false, "end the replicas' LISTEN connections on the primary at 75 % of the run")
	hold := flag.Duration("fault-hold", 10*time.Second, "how long the object store and replica faults last")
	out := flag.String("out", ".", "directory for soak.csv, the SVGs and summary.json")
	flag.Parse()
	if len(reps) == 0 || *tokensPath == "" || *share == "" || *dsn == "" {
		flag.Usage()
		os.Exit(2)
	}
	if *warm == 0 {
		*warm = max(*duration/10, 2**every)
	}
	if *prefix == "" {
		*prefix = "SK" + strings.ToUpper(strconv.FormatInt(time.Now().Unix(), 36))
	}
	if u, err := url.Parse(*share); err == nil {
		*share = u.Path
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}

	var dt demoTokens
	b, err := os.ReadFile(*tokensPath)
	if err == nil {
		err = json.Unmarshal(b, &dt)
	}
	if err != nil {
		log.Fatalf("demo tokens: %v", err)
	}
	// Idle connections close after 5 s, so that the replicas' goroutine
	// counts (two per open connection) come back down after a slow spell
	// instead of keeping the spike's connections open.
	conns := &connCounter{n: map[string]int{}}
	tr := &http.Transport{DialContext: conns.dial, MaxIdleConnsPerHost: 64, MaxConnsPerHost: 256, IdleConnTimeout: 5 * time.Second}
	client := &http.Client{Transport: tr}
	var urls []string
	for _, r := range reps {
		urls = append(urls, r.url)
	}
	l := &load{client: client, admin: *admin, prefix: *prefix, holders: *holders, replicas: urls,
		today: time.Now(), share: *share, issued: map[string]string{}, unanswered: map[string]bool{}, seen: []string{dt.SampleOrg.USCC}}
	for _, t := range dt.Tokens {
		if t.Role == "issuer" && t.Authority == foodAuthority {
			l.issuer = t.Token
		}
	}
	if l.issuer == "" {
		log.Fatalf("%s: no issuer token of %s", *tokensPath, foodAuthority)
	}
	if l.consumer, err = l.newConsumer(ctx, reps[0].url); err != nil {
		log.Fatal(err)
	}
	for _, id := range dt.SampleIDs {
		doc, err := l.call(ctx, http.MethodGet, reps[0].url+"/api/v1/certificates/"+url.PathEscape(id)+"/document", *admin, nil, nil)
		if err != nil {
			log.Fatalf("demo document %s: %v", id, err)
		}
		l.docs = append(l.docs, strings.TrimSpace(string(doc)))
	}
	l.nDemo = len(l.docs)
	if l.nDemo == 0 {
		log.Fatal("no demo documents to verify")
	}

	rc, err := newReceiver(reps[0].url+"/.well-known/jwks.json", client)
	if err != nil {
		log.Fatal(err)
	}
	sub, err := rc.subscribe(ctx, l, reps[0].url)
	if err != nil {
		log.Fatal(err)
	}

	// Goroutines at rest before the load, to compare with the same after
	// it: under load the count follows the open connections, so only the
	// resting count tells a leak from a slow spell.
	var rest0 []float64
	for _, r := range reps {
		g, err := restingGoroutines(ctx, client, r.url)
		if err != nil {
			log.Fatal(err)
		}
		rest0 = append(rest0, g)
	}

	fs := &faults{}
	if *s3Fault != "" {
		fs.list = append(fs.list, objectStoreFault(client, *s3Fault, *duration*45/100, *hold))
	}
	if *standby != "" {
		fs.list = append(fs.list, replayPause(*standby, *duration*60/100, *hold))
	}
	if *dropListen {
		fs.list = append(fs.list, dropListeners(*dsn, *duration*75/100))
	}
	ops := []*op{
		{name: "issue", rate: *issueRate, do: l.issue, faults: fs},
		{name: "lookup", rate: *lookupRate, do: l.lookup, faults: fs},
		{name: "verify", rate: *verifyRate, do: l.verify, faults: fs},
		{name: "share", rate: *shareRate, do: l.shareView, faults: fs},
		{name: "revoke", rate: *revokeRate, do: l.revokeProbe, faults: fs},
	}
	log.Printf("soak: %s on %d replicas, prefix %s, webhooks to %s (subscription %s)", *duration, len(reps), *prefix, rc.url, sub)
	log.Printf("soak: rates/s issue %.0f, lookup %.0f, verify %.0f, share %.0f", *issueRate, *lookupRate, *verifyRate, *shareRate)

	loadCtx, cancel := context.WithTimeout(ctx, *duration)
	defer cancel()
	var inflight atomic.Int64
	var wg, opsWG sync.WaitGroup
	start := time.Now()
	opsWG.Add(1)
	go func() { defer opsWG.Done(); fs.run(loadCtx, start) }()
	for _, o := range ops {
		opsWG.Add(1)
		go func() { defer opsWG.Done(); o.run(loadCtx, urls, *maxInFlight, &inflight, &wg) }()
	}
	var samples []sample
	var sampleErr error
	tick := time.NewTicker(*every)
sampling:
	for {
		select {
		case <-loadCtx.Done():
			break sampling
		case now := <-tick.C:
			s, err := take(ctx, client, conns, now.Sub(start).Seconds(), every.Seconds(), reps, ops)
			if err != nil {
				sampleErr = err
				log.Printf("soak: sample: %v", err)
				continue
			}
			samples = append(samples, s)
			log.Printf("soak: %4.0fs rss %v MiB goroutines %v connections %v p99 ms %v errors %v", s.T, rounded(s.RSS), s.Gor, s.Conn, rounded(s.P99), s.Errs)
		}
	}
	tick.Stop()
	opsWG.Wait()
	wg.Wait()
	elapsed := time.Since(start)
	interrupted := ctx.Err() != nil

	// Webhooks: every 2xx issuance must come back as exactly one
	// certificate.issued event; deliveries run every 2 s and are retried.
	l.mu.Lock()
	var ids []string
	for _, id := range l.issued {
		ids = append(ids, id)
	}
	l.mu.Unlock()
	drainStart := time.Now()
	missing, extra := rc.missing(ids)
	for missing > 0 && time.Since(drainStart) < *drain && ctx.Err() == nil {
		time.Sleep(time.Second)
		missing, extra = rc.missing(ids)
	}
	drained := time.Since(drainStart)
	// At rest again: the idle connections closed, the servers' goroutines
	// for them gone.
	tr.CloseIdleConnections()
	time.Sleep(2 * time.Second)
	var rest1 []float64
	for _, r := range reps {
		g, err := restingGoroutines(context.WithoutCancel(ctx), client, r.url)
		if err != nil {
			g = math.NaN()
			sampleErr = err
		}
		rest1 = append(rest1, g)
	}

	sum := summary{Prefix: *prefix, Replicas: urls, Duration: elapsed.Seconds(), Every: every.Seconds(), Warmup: warm.Seconds(),
		Ops: map[string]opSummary{}}
	var checks []check
	for _, o := range ops {
		o.mu.Lock()
		s := opSummary{Rate: o.rate, Sent: o.sent, OK: o.ok, Errors: o.errs, Excused: o.excused, PerSecond: float64(o.ok) / elapsed.Seconds(),
			P50: pct(o.all, 50), P99: pct(o.all, 99), Max: pct(o.all, 100), ErrorSamples: o.samples}
		o.mu.Unlock()
		sum.Ops[o.name] = s
		if o.rate > 0 {
			checks = append(checks, check{o.name + ": 0 errors", s.Errors == 0 && s.OK > 0,
				fmt.Sprintf("%d sent, %d 2xx, %d errors %v, %d excused by a fault in progress", s.Sent, s.OK, s.Errors, s.ErrorSamples, s.Excused)})
		}
	}
	for _, f := range fs.list {
		c, fsum := f.check(start)
		checks = append(checks, c)
		sum.Faults = append(sum.Faults, fsum)
	}
	if *revokeRate > 0 {
		l.revoked.mu.Lock()
		sum.Revocations = revocationSummary{Probes: len(l.revoked.lag), P50: pct(l.revoked.lag, 50), P99: pct(l.revoked.lag, 99),
			Max: pct(l.revoked.lag, 100), Stale: l.revoked.stale}
		l.revoked.mu.Unlock()
		r := sum.Revocations
		checks = append(checks, check{"revocations: never valid on any replica 1 s after", len(r.Stale) == 0 && r.Probes > 0,
			fmt.Sprintf("%d probes seen revoked on the other replica after p50 %.0f ms, p99 %.0f ms, max %.0f ms; %d wrong answers %v",
				r.Probes, r.P50, r.P99, r.Max, len(r.Stale), r.Stale[:min(len(r.Stale), 5)])})
	}
	rc.mu.Lock()
	sum.Webhooks = webhookSummary{Deliveries: rc.deliveries, DistinctEvents: len(rc.events), Redelivered: rc.dupEvents,
		BadSignatures: rc.badSig, IssuedOfRun: len(ids), Missing: missing, MoreThanOnce: extra, DrainSeconds: drained.Seconds()}
	sigSamples := rc.samples
	rc.mu.Unlock()
	checks = append(checks,
		check{"webhooks: every signature verifies", sum.Webhooks.BadSignatures == 0, fmt.Sprintf("%d refused %v", sum.Webhooks.BadSignatures, sigSamples)},
		check{"webhooks: one certificate.issued per issuance", missing == 0 && extra == 0,
			fmt.Sprintf("%d issuances: %d without an event after %s of drain, %d with more than one distinct event; %d deliveries, %d redelivered",
				len(ids), missing, drained.Round(time.Second), extra, rc.deliveries, rc.dupEvents)})

	rec, err := reconcile(context.WithoutCancel(ctx), *dsn, *prefix, l.issued, l.unanswered)
	if err != nil {
		checks = append(checks, check{"counts reconcile", false, err.Error()})
	} else {
		checks = append(checks, rec.check())
	}
	sum.Reconciliation = rec

	checks = append(checks, check{"samples", sampleErr == nil && len(samples) > 0, fmt.Sprintf("%d samples, last error %v", len(samples), sampleErr)})
	for i := range reps {
		name := fmt.Sprintf("replica %c", 'A'+i)
		rt := trendOf(samples, warm.Seconds(), func(s sample) float64 { return s.RSS[i] })
		gt := trendOf(samples, warm.Seconds(), func(s sample) float64 { return s.Gor[i] })
		ct := trendOf(samples, warm.Seconds(), func(s sample) float64 { return s.Conn[i] })
		ht := trendOf(samples, warm.Seconds(), func(s sample) float64 { return s.Heap[i] })
		sum.RSS = append(sum.RSS, rt)
		sum.Heap = append(sum.Heap, ht)
		sum.Goroutines = append(sum.Goroutines, gt)
		checks = append(checks,
			check{name + ": RSS flat", rt.Samples >= 2 && rt.Growth <= *rssGrowth,
				fmt.Sprintf("%.0f → %.0f MiB (medians of the first and last quarter after %s of warm-up: %+.1f %%, limit %+.0f %%; slope %+.1f MiB/h); "+
					"Go heap in use %.0f → %.0f MiB (slope %+.1f MiB/h)",
					rt.First, rt.Last, warm.Round(time.Second), 100*rt.Growth, 100**rssGrowth, rt.SlopeHour, ht.First, ht.Last, ht.SlopeHour)},
			check{name + ": goroutines flat", rest1[i]-rest0[i] <= max(*gorAbs, *gorGrowth*rest0[i]),
				fmt.Sprintf("at rest %.0f before the load, %.0f after it (limit +%.0f); under load %.0f → %.0f (quarter medians; slope %+.0f/h), "+
					"with soakgen's connections to it %.0f → %.0f", rest0[i], rest1[i], max(*gorAbs, *gorGrowth*rest0[i]),
					gt.First, gt.Last, gt.SlopeHour, ct.First, ct.Last)})
		sum.GoroutinesAtRest = append(sum.GoroutinesAtRest, [2]float64{rest0[i], rest1[i]})
	}
	if interrupted {
		checks = append(checks, check{"ran to the end", false, "interrupted after " + elapsed.Round(time.Second).String()})
	}
	sum.Checks = checks
	sum.Pass = true
	for _, c := range checks {
		sum.Pass = sum.Pass && c.OK
	}

	if err := writeOutputs(*out, reps, ops, samples, &sum); err != nil {
		log.Printf("soak: writing results: %v", err)
		sum.Pass = false
	}
	report(os.Stdout, &sum)
	if !sum.Pass {
		os.Exit(1)
	}
}

func rounded(v []float64) []float64 {
	r := make([]float64, len(v))
	for i, x := range v {
		r[i] = float64(int(x*10+0.5)) / 10
	}
	return r
}

func writeOutputs(dir string, reps []replica, ops []*op, samples []sample, sum *summary) error {
	if err := writeCSV(filepath.Join(dir, "soak.csv"), reps, ops, samples); err != nil {
		return err
	}
	var x []float64
	for _, s := range samples {
		x = append(x, s.T)
	}
	var rss, p99 []series
	for i := range reps {
		y := make([]float64, len(samples))
		for j, s := range samples {
			y[j] = s.RSS[i]
		}
		rss = append(rss, series{fmt.Sprintf("replica %c", 'A'+i), y})
	}
	for i, o := range ops {
		y := make([]float64, len(samples))
		for j, s := range samples {
			y[j] = s.P99[i]
		}
		p99 = append(p99, series{o.name, y})
	}
	win := time.Duration(sum.Every * float64(time.Second))
	if err := writeSVG(filepath.Join(dir, "soak-rss.svg"), "Soak: resident memory of each replica", "RSS (MiB)", x, rss); err != nil {
		return err
	}
	if err := writeSVG(filepath.Join(dir, "soak-p99.svg"), fmt.Sprintf("Soak: p99 latency per %s window", win), "p99 (ms)", x, p99); err != nil {
		return err
	}
	b, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "summary.json"), append(b, '\n'), 0o644)
}
