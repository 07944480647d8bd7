package main

import (
	"context"
	"net"
	"sync"
	"time"
)

// connCounter counts soakgen's open connections to each address. A
// replica's goroutine count follows them (a served connection holds one
// goroutine, two while a request runs), and they follow latency, so the
// samples carry them beside the goroutines.
type connCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *connCounter) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.n[addr]++
	c.mu.Unlock()
	return &countedConn{Conn: conn, c: c, addr: addr}, nil
}

func (c *connCounter) open(addr string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[addr]
}

type countedConn struct {
	net.Conn
	c    *connCounter
	addr string
	once sync.Once
}

func (cc *countedConn) Close() error {
	cc.once.Do(func() {
		cc.c.mu.Lock()
		cc.c.n[cc.addr]--
		cc.c.mu.Unlock()
	})
	return cc.Conn.Close()
}
