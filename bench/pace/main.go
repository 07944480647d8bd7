// Command pace sends requests at a fixed rate (open loop) and reports the
// latency distribution, for "p99 at a given load" where wrk reports it at
// saturation. Each request's latency runs from the time it was scheduled,
// not from when a connection was free, so a hub that falls behind shows it
// (no coordinated omission).
//
//	pace -url http://127.0.0.1:18190 -get /api/v1/certificates/ -lines ids -rate 1000 -duration 15s \
//	  -header 'Authorization: Bearer …' -header 'X-Purpose: bench'
//	pace -url … -post /api/v1/verify -lines bodies.jsonl -rate 3000 -duration 15s
//
// With -get each request is GET <path><line>; with -post each is POST
// <path> with <line> as its JSON body. Lines are taken at random, or in
// order with -in-order (for bodies that must differ, such as case ids). It prints
// one row: name, sent/s, p50, p90, p99, max (ms), failures (not 2xx or
// no answer), and the p99 and max of how late requests began (ms: the
// generator's own lag, which sends the requests it owes in a burst), and
// exits 1 if more than 1 % failed.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

type headers []string

func (h *headers) String() string     { return strings.Join(*h, ", ") }
func (h *headers) Set(v string) error { *h = append(*h, v); return nil }

func main() {
	var hdrs headers
	base := flag.String("url", "", "the hub's base URL")
	get := flag.String("get", "", "GET this path with a line appended")
	post := flag.String("post", "", "POST a line to this path as a JSON body")
	file := flag.String("lines", "", "file of lines: path suffixes (-get) or bodies (-post)")
	rate := flag.Float64("rate", 100, "requests a second")
	dur := flag.Duration("duration", 15*time.Second, "how long to send")
	conns := flag.Int("conns", 256, "most requests in flight (and idle connections kept)")
	name := flag.String("name", "", "the row's name (default: the path)")
	inOrder := flag.Bool("in-order", false, "take the lines in order, each once (there must be enough), not at random")
	flag.Var(&hdrs, "header", "a request header, Name: value (repeatable)")
	flag.Parse()
	if *base == "" || *file == "" || (*get == "") == (*post == "") {
		flag.Usage()
		os.Exit(2)
	}
	lines, err := readLines(*file)
	if err != nil || len(lines) == 0 {
		fmt.Fprintln(os.Stderr, "pace: lines:", err)
		os.Exit(2)
	}
	if *name == "" {
		*name = *get + *post
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: *conns, MaxConnsPerHost: *conns}}
	send := func(ctx context.Context, line string) error {
		method, url, body := http.MethodGet, *base+*get+line, io.Reader(nil)
		if *post != "" {
			method, url, body = http.MethodPost, *base+*post, strings.NewReader(line)
		}
		req, err := http.NewRequestWithContext(ctx, method, url, body)
		if err != nil {
			return err
		}
		if *post != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		for _, h := range hdrs {
			k, v, _ := strings.Cut(h, ":")
			req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("%s %s: %d", method, url, resp.StatusCode)
		}
		return nil
	}

	var (
		mu     sync.Mutex
		lats   []time.Duration
		lates  []time.Duration // how long after its time each request began: the generator's own lag
		failed int
		first  error
		wg     sync.WaitGroup
	)
	slots := make(chan struct{}, *conns)
	interval := time.Duration(float64(time.Second) / *rate)
	if *inOrder && float64(len(lines)) < *rate*dur.Seconds() {
		fmt.Fprintf(os.Stderr, "pace: -in-order needs %.0f lines, %s has %d\n", *rate*dur.Seconds(), *file, len(lines))
		os.Exit(2)
	}
	start := time.Now()
	n := 0
	pick := func(n int) string {
		if *inOrder {
			return lines[n-1]
		}
		return lines[rand.IntN(len(lines))]
	}
	for {
		at := start.Add(time.Duration(n) * interval)
		if at.Sub(start) >= *dur {
			break
		}
		time.Sleep(time.Until(at))
		n++
		slots <- struct{}{} // at most conns in flight: a stalled hub shows as latency, not as a flood
		wg.Add(1)
		go func(at time.Time, line string) {
			defer wg.Done()
			defer func() { <-slots }()
			late := time.Since(at)
			err := send(context.Background(), line)
			lat := time.Since(at)
			mu.Lock()
			defer mu.Unlock()
			lats = append(lats, lat)
			lates = append(lates, late)
			if err != nil {
				failed++
				if first == nil {
					first = err
				}
			}
		}(at, pick(n))
	}
	elapsed := time.Since(start)
	wg.Wait()
	slices.Sort(lats)
	slices.Sort(lates)
	q := func(ds []time.Duration, p float64) float64 {
		return float64(ds[min(len(ds)-1, int(p*float64(len(ds))))].Microseconds()) / 1000
	}
	fmt.Printf("%-10s %10.0f %8.2f %8.2f %8.2f %8.2f %8d %8.2f %8.2f\n", *name, float64(n)/elapsed.Seconds(),
		q(lats, 0.5), q(lats, 0.9), q(lats, 0.99), q(lats, 1), failed, q(lates, 0.99), q(lates, 1))
	if first != nil {
		fmt.Fprintln(os.Stderr, "pace: first failure:", first)
	}
	if failed*100 > n {
		os.Exit(1)
	}
}

func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" {
			out = append(out, s)
		}
	}
	return out, sc.Err()
}
