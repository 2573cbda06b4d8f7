package main

// A loopback relay between a client and the server that passes the server's bytes on at a
// bounded rate, as a slower network link would, and counts the flow-control requests among
// them: the object store's large gets are read through it (obj.get_large_slow_link).

import (
	"bytes"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// relayPiece is how many bytes the relay passes on at a time (a TCP window's worth).
const relayPiece = 64 * 1024

var flowControlRequest = []byte("100 FlowControl Request")

type relay struct {
	listener    net.Listener
	upstream    string
	bytesPerSec int
	fcRequests  atomic.Int64
	passed      atomic.Int64
	wg          sync.WaitGroup
	mu          sync.Mutex
	conns       []net.Conn
}

// startRelay listens on a free loopback port and relays to upstream (host:port).
func startRelay(upstream string, bytesPerSec int) (*relay, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &relay{listener: l, upstream: upstream, bytesPerSec: bytesPerSec}
	r.wg.Add(1)
	go r.accept()
	return r, nil
}

func (r *relay) url() string { return "nats://" + r.listener.Addr().String() }

func (r *relay) accept() {
	defer r.wg.Done()
	for {
		c, err := r.listener.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", r.upstream)
		if err != nil {
			c.Close()
			continue
		}
		r.mu.Lock()
		r.conns = append(r.conns, c, s)
		r.mu.Unlock()
		r.wg.Add(2)
		go func() {
			defer r.wg.Done()
			io.Copy(s, c)
			s.Close()
		}()
		go func() {
			defer r.wg.Done()
			r.throttled(c, s)
			c.Close()
		}()
	}
}

// throttled copies the server's bytes to the client at bytesPerSec, counting flow-control
// requests (a match split across two reads is counted once, from the joined tail).
func (r *relay) throttled(dst, src net.Conn) {
	buf := make([]byte, relayPiece)
	var tail []byte
	start := time.Now()
	var sent int64
	for {
		n, err := src.Read(buf)
		if n > 0 {
			joined := append(tail, buf[:n]...)
			r.fcRequests.Add(int64(bytes.Count(joined, flowControlRequest) -
				bytes.Count(tail, flowControlRequest)))
			keep := len(flowControlRequest) - 1
			if len(joined) < keep {
				keep = len(joined)
			}
			tail = append([]byte(nil), joined[len(joined)-keep:]...)
			sent += int64(n)
			due := start.Add(time.Duration(sent * int64(time.Second) / int64(r.bytesPerSec)))
			time.Sleep(time.Until(due))
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
			r.passed.Add(int64(n))
		}
		if err != nil {
			return
		}
	}
}

func (r *relay) close() {
	r.listener.Close()
	r.mu.Lock()
	for _, c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}
