// Command tlsbench is the TLS load generator of bench/tls_bench.sh: one publisher and
// --subs subscribers on one subject, each on a TLS connection of its own (nats.go, the CA
// given by --ca). The publisher publishes --size byte messages as fast as a window lets it:
// it never gets more than --window messages ahead of the slowest subscriber, so that
// neither server buffers without bound nor cuts a subscriber off as a slow consumer. The
// rate counts deliveries (all subscribers together) over --duration seconds after --warmup
// (or, with --count N, from the first publish until every subscriber has N); the CPU time
// of --server-pid (utime+stime from /proc/PID/stat) is read at both ends of that same
// window.
//
// TLS must be real: every connection must have completed a handshake (its
// tls.ConnectionState, with the server's certificate verified against --ca), and every
// server INFO must say tls_required, or the run fails; a plaintext server cannot pass for
// a TLS one. After the window the publisher stops, and every subscriber must then receive
// every message published, exactly once, each of --size bytes, or the run fails.
//
// The generator's own cost bounds what a 2-CPU machine shows of a server's: nats.go
// allocates per message received, so the garbage collector runs at --gogc 400 (about 8 %
// less generator CPU per message than Go's default 100 here).
//
// Prints one JSON object on stdout: the figures, or {"error": ...} with exit status 1.
// Everything is bounded: --timeout ends the process whatever it is waiting for.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// A subscriber signals the publisher every progressEvery deliveries (a power of two), so a
// publisher held by its window wakes without polling each message.
const progressEvery = 256

// How long a held publisher sleeps at most before it looks at the counters again (the
// last deliveries of a window may not reach a progressEvery boundary).
const progressPoll = time.Millisecond

// How long the deliveries still in flight after the window may take to arrive.
const drainTimeout = 10 * time.Second

// The nats.go connect timeout (TCP connect and TLS handshake together).
const connectTimeout = 5 * time.Second

type options struct {
	url       string
	caFile    string
	subject   string
	subs      int
	size      int
	duration  time.Duration
	warmup    time.Duration
	timeout   time.Duration
	count     uint64
	window    uint64
	batch     uint64
	serverPID int
	clkTck    int
	gcPercent int
}

// counter is one subscriber's, alone on its cache line (the subscriber's goroutine writes
// it, the publisher reads it).
type counter struct {
	delivered atomic.Uint64
	wrongSize atomic.Uint64
	_         [112]byte
}

type side struct {
	Msgs     uint64  `json:"msgs"`
	MsgsPerS float64 `json:"msgs_per_s"`
}

type tlsInfo struct {
	Version           string `json:"version"`
	Cipher            string `json:"cipher"`
	Connections       int    `json:"connections"`
	HandshakeComplete bool   `json:"handshake_complete"`
	ServerVerified    bool   `json:"server_verified"`
	ServerTLSRequired bool   `json:"server_tls_required"`
}

type result struct {
	Subs              int      `json:"subs"`
	Size              int      `json:"size"`
	Window            uint64   `json:"window"`
	DurationS         float64  `json:"duration_s"`
	Pub               side     `json:"pub"`
	Sub               side     `json:"sub"`
	ServerCPUS        *float64 `json:"server_cpu_s,omitempty"`
	ServerCPUUsPerMsg *float64 `json:"server_cpu_us_per_msg,omitempty"`
	ClientCPUS        float64  `json:"client_cpu_s"`
	PublishedTotal    uint64   `json:"published_total"`
	DeliveredTotal    uint64   `json:"delivered_total"`
	Server            string   `json:"server"`
	TLS               tlsInfo  `json:"tls"`
}

// asyncErrors collects what nats.go reports outside a call (slow consumer, a closed
// connection): any of them fails the run.
type asyncErrors struct {
	mu   sync.Mutex
	list []string
}

func (a *asyncErrors) add(format string, args ...any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.list = append(a.list, fmt.Sprintf(format, args...))
}

func (a *asyncErrors) err() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.list) == 0 {
		return nil
	}
	return errors.New(strings.Join(a.list, "; "))
}

func fail(err error) {
	out, _ := json.Marshal(map[string]string{"error": err.Error()})
	fmt.Println(string(out))
	os.Exit(1)
}

func parseOptions() *options {
	o := &options{}
	var duration, warmup, timeout float64
	flag.StringVar(&o.url, "s", "", "server URL, tls://127.0.0.1:PORT")
	flag.StringVar(&o.caFile, "ca", "", "PEM file of the CA that signed the server's certificate")
	flag.StringVar(&o.subject, "subject", "", "subject (default: tlsbench.<pid>)")
	flag.IntVar(&o.subs, "subs", 1, "subscribers, each on a connection of its own")
	flag.IntVar(&o.size, "size", 128, "payload bytes")
	flag.Float64Var(&duration, "duration", 3, "seconds of load counted")
	flag.Float64Var(&warmup, "warmup", 0.25, "seconds of load before the count starts")
	flag.Float64Var(&timeout, "timeout", 60, "seconds after which the run fails, whatever it waits for")
	flag.Uint64Var(&o.count, "count", 0, "instead of --duration: run until every subscriber has N")
	flag.Uint64Var(&o.window, "window", 65536, "messages the publisher may be ahead of the slowest subscriber")
	flag.Uint64Var(&o.batch, "batch", 512, "messages the publisher publishes between looks at the window")
	flag.IntVar(&o.serverPID, "server-pid", 0, "the server's PID, whose CPU time is read around the window")
	flag.IntVar(&o.clkTck, "clk-tck", 100, "clock ticks per second of /proc/PID/stat (getconf CLK_TCK)")
	flag.IntVar(&o.gcPercent, "gogc", 400, "the generator's GC percent (Go's GOGC; negative: off)")
	flag.Parse()
	o.duration = time.Duration(duration * float64(time.Second))
	o.warmup = time.Duration(warmup * float64(time.Second))
	o.timeout = time.Duration(timeout * float64(time.Second))
	switch {
	case o.url == "" || o.caFile == "":
		fail(errors.New("-s and -ca are required"))
	case o.subs < 1 || o.size < 0 || o.clkTck < 1:
		fail(errors.New("-subs must be >= 1, -size >= 0, -clk-tck >= 1"))
	case o.duration <= 0 && o.count == 0, o.warmup < 0, o.timeout <= 0:
		fail(errors.New("-duration (or -count), -timeout must be > 0 and -warmup >= 0"))
	case o.batch < 1 || o.window < o.batch:
		fail(errors.New("-batch must be >= 1 and -window >= -batch"))
	}
	if o.subject == "" {
		o.subject = "tlsbench." + strconv.Itoa(os.Getpid())
	}
	return o
}

// cpuTicks is utime+stime of process pid ("self" for this one), in clock ticks.
func cpuTicks(pid string) (uint64, error) {
	data, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; the fields after its ')' start at 3.
	end := strings.LastIndexByte(string(data), ')')
	if end < 0 {
		return 0, fmt.Errorf("/proc/%s/stat: no ')'", pid)
	}
	fields := strings.Fields(string(data[end+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%s/stat: %d fields", pid, len(fields))
	}
	utime, err1 := strconv.ParseUint(fields[11], 10, 64) // field 14
	stime, err2 := strconv.ParseUint(fields[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%s/stat: bad utime/stime", pid)
	}
	return utime + stime, nil
}

func tlsConfig(caFile string) (*tls.Config, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no certificate", caFile)
	}
	// nats.go sets ServerName to the URL's host, so the certificate must name 127.0.0.1.
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

func connect(o *options, config *tls.Config, name string, errs *asyncErrors) (*nats.Conn, error) {
	return nats.Connect(o.url,
		nats.Name(name),
		nats.Secure(config),
		nats.Timeout(connectTimeout),
		nats.NoReconnect(),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			errs.add("%s: %v", name, err)
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				errs.add("%s disconnected: %v", name, err)
			}
		}))
}

// checkTLS fails unless connection nc runs over a completed TLS handshake with a verified
// server certificate, and the server's INFO asked for TLS; it folds the connection into
// info, where every connection must agree on version and cipher.
func checkTLS(nc *nats.Conn, name string, info *tlsInfo) error {
	state, err := nc.TLSConnectionState()
	if err != nil {
		return fmt.Errorf("%s: not a TLS connection: %w", name, err)
	}
	if !state.HandshakeComplete {
		return fmt.Errorf("%s: TLS handshake not complete", name)
	}
	if len(state.VerifiedChains) == 0 {
		return fmt.Errorf("%s: server certificate not verified", name)
	}
	if !nc.TLSRequired() {
		return fmt.Errorf("%s: the server's INFO does not say tls_required", name)
	}
	version := tls.VersionName(state.Version)
	cipher := tls.CipherSuiteName(state.CipherSuite)
	if info.Connections == 0 {
		info.Version, info.Cipher = version, cipher
		info.HandshakeComplete, info.ServerVerified, info.ServerTLSRequired = true, true, true
	} else if info.Version != version || info.Cipher != cipher {
		return fmt.Errorf("%s: %s %s, where other connections have %s %s", name, version,
			cipher, info.Version, info.Cipher)
	}
	info.Connections++
	return nil
}

func slowest(counters []counter) uint64 {
	low := counters[0].delivered.Load()
	for i := 1; i < len(counters); i++ {
		low = min(low, counters[i].delivered.Load())
	}
	return low
}

func delivered(counters []counter) uint64 {
	var total uint64
	for i := range counters {
		total += counters[i].delivered.Load()
	}
	return total
}

// publish publishes until stop (or limit messages, when limit > 0), in batches of
// o.batch, each only while the slowest subscriber is at most o.window - o.batch behind;
// then flushes, so that the server has had every message. sent follows the count.
func publish(nc *nats.Conn, o *options, payload []byte, counters []counter, limit uint64,
	sent *atomic.Uint64, stop *atomic.Bool, progress <-chan struct{}) error {
	var n uint64
	for !stop.Load() && (limit == 0 || n < limit) {
		batch := o.batch
		if limit > 0 {
			batch = min(batch, limit-n)
		}
		if n-slowest(counters)+batch > o.window {
			select {
			case <-progress:
			case <-time.After(progressPoll):
			}
			continue
		}
		for range batch {
			if err := nc.Publish(o.subject, payload); err != nil {
				return err
			}
		}
		n += batch
		sent.Store(n)
	}
	return nc.FlushTimeout(drainTimeout)
}

type snapshot struct {
	at        time.Time
	delivered uint64
	sent      uint64
	serverCPU uint64
	clientCPU uint64
	cpuErr    error
}

func take(o *options, counters []counter, sent *atomic.Uint64) snapshot {
	s := snapshot{at: time.Now(), delivered: delivered(counters), sent: sent.Load()}
	if o.serverPID > 0 {
		s.serverCPU, s.cpuErr = cpuTicks(strconv.Itoa(o.serverPID))
	}
	s.clientCPU, _ = cpuTicks("self")
	return s
}

func run(o *options) (*result, error) {
	config, err := tlsConfig(o.caFile)
	if err != nil {
		return nil, err
	}
	errs := &asyncErrors{}
	res := &result{Subs: o.subs, Size: o.size, Window: o.window}
	counters := make([]counter, o.subs)
	progress := make(chan struct{}, 1)
	var conns []*nats.Conn
	defer func() {
		for _, nc := range conns {
			nc.Close()
		}
	}()
	for i := range o.subs {
		name := fmt.Sprintf("tlsbench-sub-%d", i)
		nc, err := connect(o, config, name, errs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		conns = append(conns, nc)
		if err := checkTLS(nc, name, &res.TLS); err != nil {
			return nil, err
		}
		c := &counters[i]
		size := o.size
		sub, err := nc.Subscribe(o.subject, func(m *nats.Msg) {
			if len(m.Data) != size {
				c.wrongSize.Add(1)
			}
			if c.delivered.Add(1)%progressEvery == 0 {
				select {
				case progress <- struct{}{}:
				default:
				}
			}
		})
		if err != nil {
			return nil, fmt.Errorf("%s: subscribe: %w", name, err)
		}
		// The window, not the client's pending limits, bounds what is in flight.
		if err := sub.SetPendingLimits(-1, -1); err != nil {
			return nil, err
		}
		// The server has the subscription once it answers a PING sent after it.
		if err := nc.FlushTimeout(connectTimeout); err != nil {
			return nil, fmt.Errorf("%s: flush: %w", name, err)
		}
	}
	pub, err := connect(o, config, "tlsbench-pub", errs)
	if err != nil {
		return nil, fmt.Errorf("tlsbench-pub: %w", err)
	}
	conns = append(conns, pub)
	if err := checkTLS(pub, "tlsbench-pub", &res.TLS); err != nil {
		return nil, err
	}
	res.Server = pub.ConnectedServerVersion()

	payload := make([]byte, o.size)
	for i := range payload {
		payload[i] = byte('a' + i%26)
	}
	var sent atomic.Uint64
	var stop atomic.Bool
	pubDone := make(chan error, 1)
	limit := o.count
	var first, last snapshot
	if o.count > 0 {
		first = take(o, counters, &sent)
	}
	go func() { pubDone <- publish(pub, o, payload, counters, limit, &sent, &stop, progress) }()
	if o.count > 0 {
		for slowest(counters) < o.count {
			select {
			case err := <-pubDone:
				if err != nil {
					return nil, fmt.Errorf("publish: %w", err)
				}
				pubDone <- nil
			default:
			}
			if err := errs.err(); err != nil {
				return nil, err
			}
			time.Sleep(progressPoll)
		}
		last = take(o, counters, &sent)
	} else {
		time.Sleep(o.warmup)
		first = take(o, counters, &sent)
		time.Sleep(o.duration)
		last = take(o, counters, &sent)
	}
	stop.Store(true)
	if err := <-pubDone; err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	if first.cpuErr != nil || last.cpuErr != nil {
		return nil, fmt.Errorf("server CPU: %v %v", first.cpuErr, last.cpuErr)
	}

	// Every message published reaches every subscriber, once.
	total := sent.Load()
	deadline := time.Now().Add(drainTimeout)
	for delivered(counters) < total*uint64(o.subs) && time.Now().Before(deadline) {
		time.Sleep(progressPoll)
	}
	time.Sleep(10 * progressPoll) // room for a duplicate to show
	for i := range counters {
		got := counters[i].delivered.Load()
		if got != total {
			return nil, fmt.Errorf("subscriber %d received %d of %d messages published", i, got,
				total)
		}
		if bad := counters[i].wrongSize.Load(); bad > 0 {
			return nil, fmt.Errorf("subscriber %d received %d messages not of %d bytes", i, bad,
				o.size)
		}
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	for _, nc := range conns {
		if _, err := nc.TLSConnectionState(); err != nil {
			return nil, fmt.Errorf("a connection lost TLS during the run: %w", err)
		}
	}

	seconds := last.at.Sub(first.at).Seconds()
	res.DurationS = seconds
	res.Pub = side{Msgs: last.sent - first.sent, MsgsPerS: float64(last.sent-first.sent) / seconds}
	res.Sub = side{Msgs: last.delivered - first.delivered,
		MsgsPerS: float64(last.delivered-first.delivered) / seconds}
	res.PublishedTotal, res.DeliveredTotal = total, delivered(counters)
	res.ClientCPUS = float64(last.clientCPU-first.clientCPU) / float64(o.clkTck)
	if o.serverPID > 0 {
		cpu := float64(last.serverCPU-first.serverCPU) / float64(o.clkTck)
		res.ServerCPUS = &cpu
		if res.Sub.Msgs > 0 {
			perMsg := cpu * 1e6 / float64(res.Sub.Msgs)
			res.ServerCPUUsPerMsg = &perMsg
		}
	}
	return res, nil
}

func main() {
	o := parseOptions()
	debug.SetGCPercent(o.gcPercent)
	time.AfterFunc(o.timeout, func() {
		fail(fmt.Errorf("timed out after %v", o.timeout))
	})
	res, err := run(o)
	if err != nil {
		fail(err)
	}
	out, err := json.Marshal(res)
	if err != nil {
		fail(err)
	}
	fmt.Println(string(out))
}
