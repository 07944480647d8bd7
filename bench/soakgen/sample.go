package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// replica is one hub process under load.
type replica struct {
	url string
	pid int
}

// sample is what was seen in one window.
type sample struct {
	T    float64   // seconds since the load started
	RSS  []float64 // MiB, per replica
	Gor  []float64 // goroutines, per replica
	Conn []float64 // soakgen's open connections, per replica
	Rate []float64 // answered requests a second, per op
	P99  []float64 // ms, per op
	Errs []int     // per op
}

// rssMiB reads a process's resident set (VmRSS) from /proc.
func rssMiB(pid int) (float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("pid %d: no VmRSS", pid)
}

// goroutines scrapes go_goroutines from a replica's /metrics.
func goroutines(ctx context.Context, client *http.Client, base string) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 16<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			return strconv.ParseFloat(strings.TrimSpace(rest), 64)
		}
	}
	return 0, fmt.Errorf("%s/metrics: no go_goroutines", base)
}

// take closes the current window of every op and reads the replicas.
func take(ctx context.Context, client *http.Client, conns *connCounter, t, every float64, reps []replica, ops []*op) (sample, error) {
	s := sample{T: t}
	for _, r := range reps {
		m, err := rssMiB(r.pid)
		if err != nil {
			return s, fmt.Errorf("replica %s: %w", r.url, err)
		}
		g, err := goroutines(ctx, client, r.url)
		if err != nil {
			return s, fmt.Errorf("replica %s: %w", r.url, err)
		}
		s.RSS, s.Gor = append(s.RSS, m), append(s.Gor, g)
		s.Conn = append(s.Conn, float64(conns.open(hostOf(r.url))))
	}
	for _, o := range ops {
		w, e := o.window()
		s.Rate = append(s.Rate, float64(len(w))/every)
		s.P99 = append(s.P99, pct(w, 99))
		s.Errs = append(s.Errs, e)
	}
	return s, nil
}

// writeCSV writes one row per sample.
func writeCSV(path string, reps []replica, ops []*op, samples []sample) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	head := []string{"t_s"}
	for i := range reps {
		head = append(head, fmt.Sprintf("rss_mib_%c", 'a'+i), fmt.Sprintf("goroutines_%c", 'a'+i), fmt.Sprintf("connections_%c", 'a'+i))
	}
	for _, o := range ops {
		head = append(head, o.name+"_per_s", o.name+"_p99_ms", o.name+"_errors")
	}
	_ = w.Write(head)
	f1 := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
	for _, s := range samples {
		row := []string{f1(s.T)}
		for i := range reps {
			row = append(row, f1(s.RSS[i]), f1(s.Gor[i]), f1(s.Conn[i]))
		}
		for i := range ops {
			row = append(row, f1(s.Rate[i]), strconv.FormatFloat(s.P99[i], 'f', 2, 64), strconv.Itoa(s.Errs[i]))
		}
		_ = w.Write(row)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// hostOf is the host:port of a replica's URL, as the dialer sees it.
func hostOf(u string) string {
	if p, err := url.Parse(u); err == nil {
		return p.Host
	}
	return u
}

// restingGoroutines reads a replica's goroutines with no load on it: the
// median of three readings a second apart, since background work (webhook
// dispatch, connector schedule, checkpoints) comes and goes.
func restingGoroutines(ctx context.Context, client *http.Client, base string) (float64, error) {
	var v []float64
	for i := range 3 {
		if i > 0 {
			time.Sleep(time.Second)
		}
		g, err := goroutines(ctx, client, base)
		if err != nil {
			return 0, err
		}
		v = append(v, g)
	}
	return median(v), nil
}
