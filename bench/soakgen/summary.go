package main

import (
	"fmt"
	"io"
	"slices"
)

// summary is summary.json: what was sent, what came back, and the verdicts.
type summary struct {
	Pass           bool                 `json:"pass"`
	Prefix         string               `json:"permit_prefix"`
	Replicas       []string             `json:"replicas"`
	Duration       float64              `json:"duration_s"`
	Every          float64              `json:"sample_every_s"`
	Warmup         float64              `json:"warmup_s"`
	Ops            map[string]opSummary `json:"ops"`
	Webhooks       webhookSummary       `json:"webhooks"`
	Reconciliation reconciliation       `json:"reconciliation"`
	RSS            []trend              `json:"rss_mib"`
	Heap           []trend              `json:"heap_inuse_mib"`
	Goroutines     []trend              `json:"goroutines"`
	// GoroutinesAtRest is each replica's resting count before and after
	// the load: the goroutine verdict.
	GoroutinesAtRest [][2]float64      `json:"goroutines_at_rest"`
	Faults           []faultSummary    `json:"faults,omitempty"`
	Revocations      revocationSummary `json:"revocations"`
	Checks           []check           `json:"checks"`
}

// revocationSummary is the revocation probe's: how long a revocation took
// to reach another replica, and any answer that said valid after 1 s.
type revocationSummary struct {
	Probes int      `json:"probes"`
	P50    float64  `json:"p50_ms"`
	P99    float64  `json:"p99_ms"`
	Max    float64  `json:"max_ms"`
	Stale  []string `json:"wrong_answers,omitempty"`
}

type opSummary struct {
	Rate         float64  `json:"rate_per_s"`
	Sent         int64    `json:"sent"`
	OK           int64    `json:"ok"`
	Errors       int64    `json:"errors"`
	Excused      int64    `json:"excused_by_faults"`
	PerSecond    float64  `json:"ok_per_s"`
	P50          float64  `json:"p50_ms"`
	P99          float64  `json:"p99_ms"`
	Max          float64  `json:"max_ms"`
	ErrorSamples []string `json:"error_samples,omitempty"`
}

type webhookSummary struct {
	Deliveries     int     `json:"deliveries"`
	DistinctEvents int     `json:"distinct_events"`
	Redelivered    int     `json:"redelivered"`
	BadSignatures  int     `json:"bad_signatures"`
	IssuedOfRun    int     `json:"issued_in_run"`
	Missing        int     `json:"missing"`
	MoreThanOnce   int     `json:"more_than_once"`
	DrainSeconds   float64 `json:"drain_s"`
}

// report prints the summary for a person: per-operation figures, then
// each check.
func report(w io.Writer, s *summary) {
	fmt.Fprintf(w, "\n== soak: %.0f s, %d replicas, permit prefix %s\n", s.Duration, len(s.Replicas), s.Prefix)
	fmt.Fprintf(w, "%-8s %8s %10s %10s %8s %9s %9s %9s\n", "op", "rate/s", "sent", "2xx", "errors", "2xx/s", "p50 ms", "p99 ms")
	names := make([]string, 0, len(s.Ops))
	for n := range s.Ops {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		o := s.Ops[n]
		fmt.Fprintf(w, "%-8s %8.0f %10d %10d %8d %9.1f %9.2f %9.2f\n", n, o.Rate, o.Sent, o.OK, o.Errors, o.PerSecond, o.P50, o.P99)
	}
	fmt.Fprintf(w, "webhooks: %d deliveries, %d distinct events, %d redelivered, drain %.0f s\n",
		s.Webhooks.Deliveries, s.Webhooks.DistinctEvents, s.Webhooks.Redelivered, s.Webhooks.DrainSeconds)
	for _, c := range s.Checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "%s %s: %s\n", mark, c.Name, c.Detail)
	}
	if s.Pass {
		fmt.Fprintln(w, "soak: PASS")
	} else {
		fmt.Fprintln(w, "soak: FAIL")
	}
}
