package main

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/jackc/pgx/v5"
)

// check is one verdict of the soak.
type check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// trend compares the start of a series with its end, after the warm-up.
type trend struct {
	First     float64 `json:"first_quarter_median"`
	Last      float64 `json:"last_quarter_median"`
	Growth    float64 `json:"growth"`         // (last - first) / first
	SlopeHour float64 `json:"slope_per_hour"` // least-squares slope over the judged samples
	Samples   int     `json:"samples_judged"` // samples after the warm-up
	Start     float64 `json:"start"`          // first sample, warm-up included
	End       float64 `json:"end"`            // last sample
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return math.NaN()
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// slope is the least-squares slope of v against t, per second.
func slope(t, v []float64) float64 {
	n := float64(len(t))
	if n < 2 {
		return 0
	}
	var st, sv, stt, stv float64
	for i := range t {
		st += t[i]
		sv += v[i]
		stt += t[i] * t[i]
		stv += t[i] * v[i]
	}
	d := n*stt - st*st
	if d == 0 {
		return 0
	}
	return (n*stv - st*sv) / d
}

// trendOf judges series pick(sample) over the samples taken after warm seconds:
// the median of the first quarter of them against the median of the last.
func trendOf(samples []sample, warm float64, pick func(sample) float64) trend {
	var t, v []float64
	for _, s := range samples {
		if s.T >= warm {
			t, v = append(t, s.T), append(v, pick(s))
		}
	}
	tr := trend{Samples: len(v)}
	if len(samples) > 0 {
		tr.Start, tr.End = pick(samples[0]), pick(samples[len(samples)-1])
	}
	if len(v) == 0 {
		return tr
	}
	q := max(1, len(v)/4)
	tr.First, tr.Last = median(v[:q]), median(v[len(v)-q:])
	if tr.First > 0 {
		tr.Growth = (tr.Last - tr.First) / tr.First
	}
	tr.SlopeHour = slope(t, v) * 3600
	return tr
}

// reconciliation is what the store holds of the run's issuances.
type reconciliation struct {
	Answered2xx      int `json:"answered_2xx"`
	InStore          int `json:"in_store"`
	Missing          int `json:"missing"`           // 2xx answers whose id is not stored under that permit number
	Unexpected       int `json:"unexpected"`        // stored with the run's prefix but never answered 2xx nor left unanswered
	Unanswered       int `json:"unanswered"`        // issuances that got no answer (counted as errors)
	UnansweredStored int `json:"unanswered_stored"` // … of which the store holds the certificate
	DupPermits       int `json:"dup_permits"`       // permit numbers stored more than once
	DupIDs           int `json:"dup_ids"`           // ids answered by more than one 2xx
}

// reconcile reads every certificate whose permit number has the run's
// prefix and matches it against the 2xx answers (permit number → id).
func reconcile(ctx context.Context, dsn, prefix string, issued map[string]string, unanswered map[string]bool) (reconciliation, error) {
	r := reconciliation{Answered2xx: len(issued), Unanswered: len(unanswered)}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return r, err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT id, data->>'permit_no' FROM certificates
		WHERE type_code = $1 AND starts_with(data->>'permit_no', $2)`, foodType, prefix)
	if err != nil {
		return r, err
	}
	stored := map[string][]string{} // permit → ids
	for rows.Next() {
		var id, permit string
		if err := rows.Scan(&id, &permit); err != nil {
			return r, err
		}
		r.InStore++
		stored[permit] = append(stored[permit], id)
	}
	if err := rows.Err(); err != nil {
		return r, err
	}
	ids := map[string]int{}
	for permit, id := range issued {
		ids[id]++
		if !slices.Contains(stored[permit], id) {
			r.Missing++
		}
	}
	for _, n := range ids {
		if n > 1 {
			r.DupIDs++
		}
	}
	for permit, s := range stored {
		if len(s) > 1 {
			r.DupPermits++
		}
		if _, ok := issued[permit]; ok {
			continue
		}
		if unanswered[permit] {
			r.UnansweredStored++
		} else {
			r.Unexpected++
		}
	}
	return r, nil
}

func (r reconciliation) check() check {
	// An issuance left unanswered (a timeout, already an error) may be
	// stored or not; every other stored one must be a 2xx, exactly once.
	ok := r.InStore == r.Answered2xx+r.UnansweredStored && r.Missing == 0 && r.Unexpected == 0 && r.DupPermits == 0 && r.DupIDs == 0
	return check{"counts reconcile", ok, fmt.Sprintf("%d issuances answered 2xx, %d stored with the run's prefix; "+
		"missing %d, unexpected %d, permit numbers stored twice %d, ids answered twice %d; %d unanswered, %d of them stored",
		r.Answered2xx, r.InStore, r.Missing, r.Unexpected, r.DupPermits, r.DupIDs, r.Unanswered, r.UnansweredStored)}
}
