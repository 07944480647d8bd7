// Command s3fault stands in front of an S3 server for the soak
// (bench/soak.sh) and, when told, answers every request with 503 for a
// while, as an object store does when it is overloaded or failing over.
// Requests pass through unchanged otherwise, Host header included (S3
// signatures cover it).
//
//	s3fault -listen 127.0.0.1:0 -target 127.0.0.1:59000 -addr-file F
//	curl -X POST 'http://<listen>/__fault?for=10s'   # 204; 503s for 10 s
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"sync/atomic"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	target := flag.String("target", "", "the S3 server, host:port")
	addrFile := flag.String("addr-file", "", "write the address listened on to this file")
	flag.Parse()
	if *target == "" {
		flag.Usage()
		os.Exit(2)
	}
	up := &url.URL{Scheme: "http", Host: *target}
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(up)
		r.Out.Host = r.In.Host // what the client signed
	}}
	var until atomic.Int64 // unix nanoseconds until which every answer is 503
	var refused atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/__fault" && r.Method == http.MethodPost {
			d, err := time.ParseDuration(r.URL.Query().Get("for"))
			if err != nil || d <= 0 {
				http.Error(w, "for: want a positive duration such as 10s", http.StatusBadRequest)
				return
			}
			until.Store(time.Now().Add(d).UnixNano())
			log.Printf("s3fault: answering 503 for %s", d)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if time.Now().UnixNano() < until.Load() {
			if refused.Add(1)%100 == 1 {
				log.Printf("s3fault: %d requests refused so far", refused.Load())
			}
			w.Header().Set("Content-Type", "application/xml")
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServiceUnavailable</Code>`+
				`<Message>Injected by s3fault: the service is unavailable.</Message></Error>`)
			return
		}
		proxy.ServeHTTP(w, r)
	})
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	if *addrFile != "" {
		if err := os.WriteFile(*addrFile, []byte(ln.Addr().String()), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	log.Printf("s3fault: %s → %s", ln.Addr(), *target)
	log.Fatal(http.Serve(ln, h))
}
