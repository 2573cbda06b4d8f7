// consumer_scale: one run of bench/consumer_scale_bench.sh against a broker already
// listening on --url with JetStream on and an empty store. It prints one JSON line.
//
// Stream part (skipped with --msgs 0):
//   - fills a file stream CS (subjects cs.>) with --msgs messages of --size bytes, message
//     i on cs.<i%100>.<(i/100)%(S/100)> (S = --subjects, default 10,000), by plain
//     publishes pipelined on one connection with an acknowledged publish every --barrier
//     messages (so the server never holds more than that many unanswered), then checks
//     that the stream holds them all;
//   - times CONSUMER.CREATE (the request's round trip) of pull consumers, deliver all, ack
//     explicit, with the filters f1lit (cs.7.42), f1 (cs.7.*) and f100 (the 100 literal
//     subjects cs.7.0 .. cs.7.99: the same messages as cs.7.* when S is 10,000), --creates
//     times each (a fresh name each time, deleted after), and checks that num_pending in
//     the reply is the exact count of matching messages; with --phase rest (the broker
//     restarted on the store a --phase fill run left) one more create of each filter comes
//     first and is reported apart (create_first_ms_*), as is the wait for the stream;
//     f1mid is f1 from the middle of the stream (by_start_sequence, --msgs/2 + 1);
//   - measures the delivery rate of an ephemeral pull consumer (ack none, deliver all,
//     nats.go Consume with batches of 1000) for: none (unfiltered), f1 (cs.7.*, 1 % of the
//     stream), f100 (the 100 literal subjects above: the same 1 % when S is 10,000) and
//     f100all (cs.0.* .. cs.99.*: 100 filters covering the whole stream). Each runs until
//     it has every matching message or for --deliver-secs, whichever comes first; the rate
//     counts deliveries from the Consume call to the last delivery, and stream sequences
//     are checked to rise.
//
// KV part (skipped with --kv-keys 0): buckets of 100 keys and of --kv-keys keys (file
// storage, history 1, filled by pipelined plain publishes as above); for each, --kv-secs of
// synchronous kv.Put (updates of random existing keys) and of kv.Get (random keys), one
// request at a time; then kv.ListKeys over the big bucket, timed, counted, with the
// server's VmRSS and RssAnon (--server-pid) sampled every 10 ms while it runs.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

var (
	url         = flag.String("url", "nats://127.0.0.1:4222", "broker URL")
	msgs        = flag.Int("msgs", 10000000, "messages in the stream (0: no stream part)")
	subjects    = flag.Int("subjects", 10000, "distinct subjects in the stream, a multiple of 100, at least 10000")
	size        = flag.Int("size", 64, "payload bytes")
	barrier     = flag.Int("barrier", 20000, "an acknowledged publish every this many")
	creates     = flag.Int("creates", 5, "CONSUMER.CREATE timings per filter")
	deliverSecs = flag.Float64("deliver-secs", 4, "bound on each delivery measurement")
	kvKeys      = flag.Int("kv-keys", 1000000, "keys in the big bucket (0: no KV part)")
	kvSecs      = flag.Float64("kv-secs", 2, "seconds of puts and of gets per bucket")
	serverPid   = flag.Int("server-pid", 0, "the broker's PID, for its RSS")
	phase       = flag.String("phase", "all", "fill (fill the stream and stop), rest (all "+
		"but the fill, on a stream a fill phase left, after a restart) or all")
)

func die(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "consumer_scale: "+format+"\n", args...)
	os.Exit(1)
}

// subject i's two tokens: a = i%100 and b = (i/100) % (subjects/100).
func tokenB(i int) int { return (i / 100) % (*subjects / 100) }

func subject(i int) string { return fmt.Sprintf("cs.%d.%d", i%100, tokenB(i)) }

// rssKiB reads a field (VmRSS, VmHWM) of the server's /proc/PID/status, in KiB.
func rssKiB(field string) int64 {
	if *serverPid == 0 {
		return 0
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", *serverPid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, field+":") {
			f := strings.Fields(line)
			v, _ := strconv.ParseInt(f[1], 10, 64)
			return v
		}
	}
	return 0
}

// fill publishes n messages, subj(i) each, pipelined, with an acknowledged publish (a
// request) every *barrier messages and as the last one.
func fill(nc *nats.Conn, n int, subj func(int) string, payload []byte) {
	for i := 0; i < n; i++ {
		s := subj(i)
		if (i+1)%*barrier == 0 || i == n-1 {
			reply, err := nc.Request(s, payload, 60*time.Second)
			if err != nil {
				die("acknowledged publish %d: %v", i, err)
			}
			if strings.Contains(string(reply.Data), "\"error\"") {
				die("publish %d: %s", i, reply.Data)
			}
		} else if err := nc.Publish(s, payload); err != nil {
			die("publish %d: %v", i, err)
		}
	}
}

func median(v []float64) float64 {
	c := append([]float64(nil), v...)
	for i := 1; i < len(c); i++ {
		for j := i; j > 0 && c[j] < c[j-1]; j-- {
			c[j], c[j-1] = c[j-1], c[j]
		}
	}
	if len(c) == 0 {
		return 0
	}
	if len(c)%2 == 1 {
		return c[len(c)/2]
	}
	return (c[len(c)/2-1] + c[len(c)/2]) / 2
}

func r3(v float64) float64 { return float64(int64(v*1000+0.5)) / 1000 }

type filterCase struct {
	name     string
	filters  []string
	match    func(i int) bool
	startSeq uint64 // deliver by_start_sequence from it; 0: deliver all
}

func filterCases() []filterCase {
	f100, f100all := []string{}, []string{}
	for b := 0; b < 100; b++ {
		f100 = append(f100, fmt.Sprintf("cs.7.%d", b))
		f100all = append(f100all, fmt.Sprintf("cs.%d.*", b))
	}
	return []filterCase{
		{"none", nil, func(int) bool { return true }, 0},
		{"f1lit", []string{"cs.7.42"}, func(i int) bool { return i%100 == 7 && tokenB(i) == 42 }, 0},
		{"f1", []string{"cs.7.*"}, func(i int) bool { return i%100 == 7 }, 0},
		{"f100", f100, func(i int) bool { return i%100 == 7 && tokenB(i) < 100 }, 0},
		{"f100all", f100all, func(int) bool { return true }, 0},
		{"f1mid", []string{"cs.7.*"}, func(i int) bool { return i%100 == 7 && i >= *msgs/2 },
			uint64(*msgs/2 + 1)},
	}
}

func consumerConfig(name string, filters []string, ack string, startSeq uint64) map[string]any {
	cfg := map[string]any{"name": name, "deliver_policy": "all", "ack_policy": ack,
		"inactive_threshold": int64(60 * time.Second)}
	if startSeq > 0 {
		cfg["deliver_policy"] = "by_start_sequence"
		cfg["opt_start_seq"] = startSeq
	}
	if len(filters) == 1 {
		cfg["filter_subject"] = filters[0]
	} else if len(filters) > 1 {
		cfg["filter_subjects"] = filters
	}
	return cfg
}

// timeCreates returns the CONSUMER.CREATE round trips in ms, each reply's num_pending
// checked against want.
func timeCreates(nc *nats.Conn, fc filterCase, want uint64, n int) []float64 {
	var ms []float64
	for k := 0; k < n; k++ {
		name := fmt.Sprintf("c_%s_%d", fc.name, k)
		body, _ := json.Marshal(map[string]any{"stream_name": "CS",
			"config": consumerConfig(name, fc.filters, "explicit", fc.startSeq)})
		start := time.Now()
		reply, err := nc.Request("$JS.API.CONSUMER.CREATE.CS."+name, body, 120*time.Second)
		elapsed := time.Since(start)
		if err != nil {
			die("CONSUMER.CREATE %s: %v", name, err)
		}
		var info struct {
			NumPending uint64          `json:"num_pending"`
			Error      json.RawMessage `json:"error"`
		}
		if json.Unmarshal(reply.Data, &info) != nil || info.Error != nil {
			die("CONSUMER.CREATE %s: %s", name, reply.Data)
		}
		if info.NumPending != want {
			die("CONSUMER.CREATE %s: num_pending %d, want %d", name, info.NumPending, want)
		}
		ms = append(ms, float64(elapsed.Microseconds())/1000)
		if _, err := nc.Request("$JS.API.CONSUMER.DELETE.CS."+name, nil, 60*time.Second); err != nil {
			die("CONSUMER.DELETE %s: %v", name, err)
		}
	}
	return ms
}

// deliver drains a fresh ack-none pull consumer for at most *deliverSecs or want messages.
func deliver(js jetstream.JetStream, fc filterCase, want uint64) (count uint64, rate float64) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cfg := jetstream.ConsumerConfig{Name: "d_" + fc.name, DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy: jetstream.AckNonePolicy, InactiveThreshold: 60 * time.Second}
	if len(fc.filters) == 1 {
		cfg.FilterSubject = fc.filters[0]
	} else if len(fc.filters) > 1 {
		cfg.FilterSubjects = fc.filters
	}
	cons, err := js.CreateConsumer(ctx, "CS", cfg)
	if err != nil {
		die("create %s: %v", cfg.Name, err)
	}
	var n atomic.Uint64
	var last atomic.Int64
	var lastSeq uint64
	var bad atomic.Value
	done := make(chan struct{})
	var once sync.Once
	start := time.Now()
	cc, err := cons.Consume(func(m jetstream.Msg) {
		c := n.Add(1)
		if c%1024 == 1 {
			md, err := m.Metadata()
			if err != nil || md.Sequence.Stream <= lastSeq {
				bad.Store(fmt.Sprintf("delivery %d out of order (%v)", c, err))
			} else {
				lastSeq = md.Sequence.Stream
			}
		}
		last.Store(int64(time.Since(start)))
		if c >= want {
			once.Do(func() { close(done) })
		}
	}, jetstream.PullMaxMessages(1000))
	if err != nil {
		die("consume %s: %v", cfg.Name, err)
	}
	select {
	case <-done:
	case <-time.After(time.Duration(*deliverSecs * float64(time.Second))):
	}
	cc.Stop()
	if b := bad.Load(); b != nil {
		die("%s: %v", cfg.Name, b)
	}
	count = n.Load()
	if count > want {
		die("%s: %d deliveries, only %d match", cfg.Name, count, want)
	}
	el := time.Duration(last.Load()).Seconds()
	if el > 0 {
		rate = float64(count) / el
	}
	_ = js.DeleteConsumer(ctx, "CS", cfg.Name)
	return count, rate
}

func kvRates(kv jetstream.KeyValue, keys int, val []byte) (putRate, getRate float64) {
	ctx := context.Background()
	d := time.Duration(*kvSecs * float64(time.Second))
	rng := rand.New(rand.NewSource(1))
	n, start := 0, time.Now()
	for time.Since(start) < d {
		if _, err := kv.Put(ctx, fmt.Sprintf("k%07d", rng.Intn(keys)), val); err != nil {
			die("kv put: %v", err)
		}
		n++
	}
	putRate = float64(n) / time.Since(start).Seconds()
	n, start = 0, time.Now()
	for time.Since(start) < d {
		k := fmt.Sprintf("k%07d", rng.Intn(keys))
		e, err := kv.Get(ctx, k)
		if err != nil || e.Key() != k {
			die("kv get %s: %v", k, err)
		}
		n++
	}
	getRate = float64(n) / time.Since(start).Seconds()
	return
}

func kvBucket(nc *nats.Conn, js jetstream.JetStream, name string, keys int, val []byte) jetstream.KeyValue {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: name, History: 1,
		Storage: jetstream.FileStorage})
	if err != nil {
		die("create bucket %s: %v", name, err)
	}
	prefix := "$KV." + name + "."
	fill(nc, keys, func(i int) string { return fmt.Sprintf("%sk%07d", prefix, i) }, val)
	st, err := js.Stream(ctx, "KV_"+name)
	if err != nil {
		die("bucket stream %s: %v", name, err)
	}
	if got := st.CachedInfo().State.Msgs; got != uint64(keys) {
		die("bucket %s holds %d keys, want %d", name, got, keys)
	}
	return kv
}

func main() {
	flag.Parse()
	if *subjects < 10000 || *subjects%100 != 0 {
		die("--subjects must be a multiple of 100, at least 10000")
	}
	nc, err := nats.Connect(*url, nats.Timeout(10*time.Second))
	if err != nil {
		die("connect: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		die("jetstream: %v", err)
	}
	out := map[string]any{"msgs": *msgs, "subjects": *subjects, "size": *size, "kv_keys": *kvKeys}
	payload := make([]byte, *size)
	for i := range payload {
		payload[i] = 'x'
	}

	if *msgs > 0 && *phase != "rest" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "CS", Subjects: []string{"cs.>"},
			Storage: jetstream.FileStorage})
		cancel()
		if err != nil {
			die("create stream: %v", err)
		}
		start := time.Now()
		fill(nc, *msgs, subject, payload)
		out["fill_rate"] = r3(float64(*msgs) / time.Since(start).Seconds())
		out["rss_after_fill_mib"] = rssKiB("VmRSS") / 1024
		out["rss_anon_after_fill_mib"] = rssKiB("RssAnon") / 1024
	}
	if *phase == "fill" {
		line, _ := json.Marshal(out)
		fmt.Println(string(line))
		return
	}
	if *msgs > 0 {
		// After a restart the stream may take a while to come back: ask until it does.
		start := time.Now()
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			st, err := js.Stream(ctx, "CS")
			cancel()
			if err == nil && st.CachedInfo().State.Msgs == uint64(*msgs) {
				break
			}
			if time.Since(start) > 120*time.Second {
				die("the stream does not hold %d messages (%v)", *msgs, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if *phase == "rest" {
			out["restart_ready_s"] = r3(time.Since(start).Seconds())
			out["rss_after_restart_mib"] = rssKiB("VmRSS") / 1024
			out["rss_anon_after_restart_mib"] = rssKiB("RssAnon") / 1024
		}
		for _, fc := range filterCases() {
			var want uint64
			for i := 0; i < *msgs; i++ {
				if fc.match(i) {
					want++
				}
			}
			if fc.name != "none" && fc.name != "f100all" {
				n := *creates
				if *phase == "rest" {
					n++ // and the first create of this filter since the restart, kept apart
				}
				ms := timeCreates(nc, fc, want, n)
				if *phase == "rest" {
					out["create_first_ms_"+fc.name] = r3(ms[0])
					ms = ms[1:]
				}
				out["create_ms_"+fc.name] = r3(median(ms))
				mx := 0.0
				for _, v := range ms {
					mx = max(mx, v)
				}
				out["create_max_ms_"+fc.name] = r3(mx)
			}
			if fc.name != "f1lit" && fc.name != "f1mid" {
				count, rate := deliver(js, fc, want)
				out["deliver_rate_"+fc.name] = r3(rate)
				out["deliver_count_"+fc.name] = count
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
		if err := js.DeleteStream(ctx, "CS"); err != nil {
			die("delete stream: %v", err)
		}
		cancel()
	}

	if *kvKeys > 0 {
		val := payload
		small := kvBucket(nc, js, "SMALL", 100, val)
		out["kv_put_rate_100"], out["kv_get_rate_100"] = kvRates(small, 100, val)
		start := time.Now()
		big := kvBucket(nc, js, "BIG", *kvKeys, val)
		out["kv_fill_rate_big"] = r3(float64(*kvKeys) / time.Since(start).Seconds())
		out["kv_put_rate_big"], out["kv_get_rate_big"] = kvRates(big, *kvKeys, val)

		rssBefore := rssKiB("VmRSS")
		anonBefore := rssKiB("RssAnon")
		var peak, peakAnon atomic.Int64
		peak.Store(rssBefore)
		peakAnon.Store(anonBefore)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if r := rssKiB("VmRSS"); r > peak.Load() {
					peak.Store(r)
				}
				if r := rssKiB("RssAnon"); r > peakAnon.Load() {
					peakAnon.Store(r)
				}
				select {
				case <-stop:
					return
				case <-time.After(10 * time.Millisecond):
				}
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Second)
		start = time.Now()
		lister, err := big.ListKeys(ctx)
		if err != nil {
			die("list keys: %v", err)
		}
		n := 0
		for range lister.Keys() {
			n++
		}
		listS := time.Since(start).Seconds()
		cancel()
		close(stop)
		wg.Wait()
		if n != *kvKeys {
			die("listed %d keys, want %d", n, *kvKeys)
		}
		out["kv_list_s"] = r3(listS)
		out["kv_list_rss_before_mib"] = rssBefore / 1024
		out["kv_list_rss_peak_mib"] = peak.Load() / 1024
		out["kv_list_anon_before_mib"] = anonBefore / 1024
		out["kv_list_anon_peak_mib"] = peakAnon.Load() / 1024
		out["hwm_mib"] = rssKiB("VmHWM") / 1024
	}
	line, _ := json.Marshal(out)
	fmt.Println(string(line))
}
