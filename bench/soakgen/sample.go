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
	"slices"
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
	Heap []float64 // MiB of the Go heap in use (go_memstats_heap_inuse_bytes), per replica
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

// scrape reads the named metrics (unlabelled) from a replica's /metrics.
func scrape(ctx context.Context, client *http.Client, base string, names ...string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	got := map[string]float64{}
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 16<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || !slices.Contains(names, name) {
			continue
		}
		if got[name], err = strconv.ParseFloat(strings.TrimSpace(value), 64); err != nil {
			return nil, fmt.Errorf("%s/metrics: %s: %w", base, name, err)
		}
	}
	for _, n := range names {
		if _, ok := got[n]; !ok {
			return nil, fmt.Errorf("%s/metrics: no %s", base, n)
		}
	}
	return got, nil
}

// goroutines scrapes go_goroutines from a replica's /metrics.
func goroutines(ctx context.Context, client *http.Client, base string) (float64, error) {
	m, err := scrape(ctx, client, base, "go_goroutines")
	return m["go_goroutines"], err
}

// take closes the current window of every op and reads the replicas.
func take(ctx context.Context, client *http.Client, conns *connCounter, t, every float64, reps []replica, ops []*op) (sample, error) {
	s := sample{T: t}
	for _, r := range reps {
		m, err := rssMiB(r.pid)
		if err != nil {
			return s, fmt.Errorf("replica %s: %w", r.url, err)
		}
		g, err := scrape(ctx, client, r.url, "go_goroutines", "go_memstats_heap_inuse_bytes")
		if err != nil {
			return s, fmt.Errorf("replica %s: %w", r.url, err)
		}
		s.RSS, s.Gor = append(s.RSS, m), append(s.Gor, g["go_goroutines"])
		s.Heap = append(s.Heap, g["go_memstats_heap_inuse_bytes"]/(1<<20))
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
		head = append(head, fmt.Sprintf("rss_mib_%c", 'a'+i), fmt.Sprintf("heap_inuse_mib_%c", 'a'+i), fmt.Sprintf("goroutines_%c", 'a'+i), fmt.Sprintf("connections_%c", 'a'+i))
	}
	for _, o := range ops {
		head = append(head, o.name+"_per_s", o.name+"_p99_ms", o.name+"_errors")
	}
	_ = w.Write(head)
	f1 := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
	for _, s := range samples {
		row := []string{f1(s.T)}
		for i := range reps {
			row = append(row, f1(s.RSS[i]), f1(s.Heap[i]), f1(s.Gor[i]), f1(s.Conn[i]))
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
