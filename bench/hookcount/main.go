// Command hookcount is a webhook receiver for bench/webhooks.sh: it
// answers every delivery 204, counts the distinct event ids it has seen
// (X-Certhub-Event),
// and prints, once a second, how many and since when, until it has seen
// -want of them (or -timeout passes). It does not check signatures: the
// benchmark measures how fast the hub delivers, and the soak
// (bench/soakgen) checks them.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

func main() {
	addrFile := flag.String("addr-file", "", "write the receiver's URL here once it listens")
	want := flag.Int("want", 0, "stop after this many distinct events")
	timeout := flag.Duration("timeout", 30*time.Minute, "give up after this long")
	flag.Parse()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]bool{}
	var deliveries int
	var first, last time.Time
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		id := r.Header.Get("X-Certhub-Event")
		mu.Lock()
		now := time.Now()
		if first.IsZero() {
			first = now
		}
		deliveries++
		if id != "" && !seen[id] {
			seen[id], last = true, now
		}
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	go func() { _ = http.Serve(ln, handler) }()
	if err := os.WriteFile(*addrFile, []byte("http://"+ln.Addr().String()+"/hook"), 0o600); err != nil {
		log.Fatal(err)
	}
	start := time.Now()
	for range time.Tick(time.Second) {
		mu.Lock()
		n, d, f, l := len(seen), deliveries, first, last
		mu.Unlock()
		fmt.Printf("%s events %d deliveries %d\n", time.Now().UTC().Format("15:04:05"), n, d)
		if (*want > 0 && n >= *want) || time.Since(start) > *timeout {
			rate := 0.0
			if n > 1 {
				rate = float64(n) / l.Sub(f).Seconds()
			}
			fmt.Printf("done: %d events (%d deliveries), first %s, last %s, %.0f events/s\n", n, d,
				f.UTC().Format("15:04:05.000"), l.UTC().Format("15:04:05.000"), rate)
			return
		}
	}
}
