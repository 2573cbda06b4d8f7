// Seed 001 (shared/seeds/001_*.txt): a nats.go user's JetStream flow, done as that user's
// program does it, against the server at -url.
//
// The user's program connects, makes a JetStream context with PublishAsyncMaxPending(256),
// asks StreamInfo("REVIEWS") and calls AddStream(REVIEWS on REVIEWS.*) when there is none,
// then publishes reviews as JSON on REVIEWS.rateGiven (js.Publish, a random pause before
// each) while a push consumer (js.Subscribe with an Ack per message) reads them in another
// goroutine. The tutorial names the async publish its context is set up for; this flow also
// publishes a burst with PublishAsync, four times the pending limit, so the limit is reached.
//
// Phases (the runner restarts the server on the same store directory between them):
//
//	-phase first    the program's first run: no stream yet, so it is created; the reviews,
//	                then the async burst; acks and stream info checked
//	-phase restart  the program run again after a server restart: the stream is found (and
//	                not created), it holds what the first run stored, publishing goes on
//	                after the last sequence
//
// -consumers adds what needs JetStream consumers: the user's push consumer on
// REVIEWS.rateGiven, run beside the publisher as the user's main does, and the tutorial's
// "minor changes": a wildcard subscription on REVIEWS.* and a pull subscription with Fetch.
//
// Every wait is bounded; the first failed check prints "FAIL: ..." and exits 1.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"math/rand"
	"os"
	"reflect"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// The user's names.
const (
	StreamName                = "REVIEWS"
	StreamSubjects            = "REVIEWS.*"
	SubjectNameReviewCreated  = "REVIEWS.rateGiven"
	SubjectNameReviewAnswered = "REVIEWS.rateAnswer"
)

// The user's limit on async publishes in flight.
const publishAsyncMaxPending = 256

// The async burst: four times the pending limit, so PublishAsync has to wait for acks.
const asyncBurstCount = 4 * publishAsyncMaxPending

// How long any one wait may take: an API reply, the async acks, a consumer's deliveries.
const waitMax = 15 * time.Second

// The user's model.
type Review struct {
	Id      string `json:"_id"`
	Author  string `json:"author"`
	Store   string `json:"store"`
	Text    string `json:"text"`
	Rating  int    `json:"rating"`
	Created string `json:"created"`
}

// Reviews as the user's data has them: ids, authors, free text with emoji and CRLF line
// breaks, ratings 1 to 5.
var reviews = []Review{
	{"64a0c1e2f1a2b3c4d5e6f701", "64a0c0aaf1a2b3c4d5e6f601", "64a0bf10f1a2b3c4d5e6f501",
		"Came here twice this week, the dumplings are worth the queue.", 5, "2022-06-20T09:12:44.101Z"},
	{"64a0c1f0f1a2b3c4d5e6f702", "64a0c0b8f1a2b3c4d5e6f602", "64a0bf10f1a2b3c4d5e6f501",
		"too loud", 2, "2022-06-20T10:03:05.877Z"},
	{"64a0c207f1a2b3c4d5e6f703", "64a0c0aaf1a2b3c4d5e6f601", "64a0bf2ef1a2b3c4d5e6f502",
		"Flat white ☕ done right. ", 4, "2022-06-21T07:45:19.000Z"},
	{"64a0c21cf1a2b3c4d5e6f704", "64a0c0c6f1a2b3c4d5e6f603", "64a0bf3cf1a2b3c4d5e6f503",
		"🌮🌮🌮\r\n\r\ntaco tuesday every day\r\nyes please", 5, "2022-06-21T12:30:00.250Z"},
	{"64a0c231f1a2b3c4d5e6f705", "64a0c0c6f1a2b3c4d5e6f603", "64a0bf4af1a2b3c4d5e6f504",
		"Waited 40 minutes for a salad. Never again.", 1, "2022-06-22T13:14:15.161Z"},
	{"64a0c246f1a2b3c4d5e6f706", "64a0c0b8f1a2b3c4d5e6f602", "64a0bf58f1a2b3c4d5e6f505",
		"\"Best\" burger in town, they say. It was fine.", 3, "2022-06-22T19:20:21.222Z"},
	{"64a0c25bf1a2b3c4d5e6f707", "64a0c0d4f1a2b3c4d5e6f604", "64a0bf66f1a2b3c4d5e6f506",
		"Kind staff, slow kitchen <3 & cheap wine", 4, "2022-06-23T20:00:00.000Z"},
	{"64a0c270f1a2b3c4d5e6f708", "64a0c0d4f1a2b3c4d5e6f604", "64a0bf74f1a2b3c4d5e6f507",
		"Çok güzel bir yer, tatlılar harika! 👌", 5, "2022-06-24T08:08:08.808Z"},
	{"64a0c285f1a2b3c4d5e6f709", "64a0c0e2f1a2b3c4d5e6f605", "64a0bf82f1a2b3c4d5e6f508",
		"meh", 2, "2022-06-25T11:11:11.111Z"},
	{"64a0c29af1a2b3c4d5e6f70a", "64a0c0e2f1a2b3c4d5e6f605", "64a0bf90f1a2b3c4d5e6f509",
		"The tasting menu is long\tbut every course lands.", 5, "2022-06-26T21:45:30.030Z"},
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	os.Exit(1)
}

func ok(format string, args ...interface{}) {
	fmt.Printf("ok: "+format+"\n", args...)
}

// JetStreamInit is the user's: connect, then a JetStream context with their pending limit.
func JetStreamInit(url string) (*nats.Conn, nats.JetStreamContext) {
	nc, err := nats.Connect(url)
	if err != nil {
		fail("connect %s: %v", url, err)
	}
	js, err := nc.JetStream(nats.PublishAsyncMaxPending(publishAsyncMaxPending))
	if err != nil {
		fail("JetStream context: %v", err)
	}
	return nc, js
}

// CreateStream is the user's (create the stream when StreamInfo finds none), with the checks
// of what they would see: on a first run "not found" and then the created stream's config,
// on a later run the existing stream and no create.
func CreateStream(js nats.JetStreamContext, firstRun bool) *nats.StreamInfo {
	stream, err := js.StreamInfo(StreamName)
	if firstRun {
		if stream != nil {
			fail("StreamInfo(%s) on a fresh server found a stream: %+v", StreamName, stream)
		}
		if !errors.Is(err, nats.ErrStreamNotFound) {
			fail("StreamInfo(%s) on a fresh server: want ErrStreamNotFound, got %v", StreamName, err)
		}
		ok("StreamInfo(%s) before creating it: %v", StreamName, err)
	} else {
		if stream == nil {
			fail("StreamInfo(%s) after a restart found no stream: %v", StreamName, err)
		}
		ok("StreamInfo(%s) after a restart: found, not created again", StreamName)
		return stream
	}

	log.Printf("Creating stream: %s\n", StreamName)
	stream, err = js.AddStream(&nats.StreamConfig{
		Name:     StreamName,
		Subjects: []string{StreamSubjects},
	})
	if err != nil {
		fail("AddStream(%s): %v", StreamName, err)
	}
	checkCreatedConfig(stream)
	return stream
}

// checkCreatedConfig: the config the server echoes for a stream created with only a name and
// subjects holds nats-server's defaults.
func checkCreatedConfig(info *nats.StreamInfo) {
	c := info.Config
	if c.Name != StreamName {
		fail("created stream's name: %q", c.Name)
	}
	if !reflect.DeepEqual(c.Subjects, []string{StreamSubjects}) {
		fail("created stream's subjects: %q", c.Subjects)
	}
	if c.Retention != nats.LimitsPolicy || c.Storage != nats.FileStorage ||
		c.Discard != nats.DiscardOld {
		fail("created stream's policies: retention %v storage %v discard %v", c.Retention,
			c.Storage, c.Discard)
	}
	if c.MaxMsgs != -1 || c.MaxBytes != -1 || c.MaxConsumers != -1 || c.MaxMsgSize != -1 {
		fail("created stream's limits: max_msgs %d max_bytes %d max_consumers %d "+
			"max_msg_size %d (want -1: unlimited)", c.MaxMsgs, c.MaxBytes, c.MaxConsumers,
			c.MaxMsgSize)
	}
	if c.Replicas != 1 || c.Duplicates != 2*time.Minute {
		fail("created stream's replicas %d, duplicate window %v", c.Replicas, c.Duplicates)
	}
	if info.State.Msgs != 0 || info.State.LastSeq != 0 {
		fail("created stream is not empty: %+v", info.State)
	}
	ok("AddStream(%s on %s): file storage, limits retention, no limits, empty", StreamName,
		StreamSubjects)
}

// checkAck: an ack of the stream, not a duplicate, one past the previous sequence.
func checkAck(what string, ack *nats.PubAck, previous uint64) {
	if ack.Stream != StreamName {
		fail("%s: ack names stream %q", what, ack.Stream)
	}
	if ack.Duplicate {
		fail("%s: ack says duplicate (seq %d)", what, ack.Sequence)
	}
	if ack.Sequence != previous+1 {
		fail("%s: ack sequence %d after %d", what, ack.Sequence, previous)
	}
}

// publishReviews is the user's publisher: each review after a random pause (the user's is up
// to 1.5 s; delayMax here), as JSON on REVIEWS.rateGiven, acked one at a time.
func publishReviews(js nats.JetStreamContext, lastSeq uint64, delayMax time.Duration) uint64 {
	for _, oneReview := range reviews {
		if delayMax > 0 {
			time.Sleep(time.Duration(rand.Int63n(int64(delayMax))))
		}
		reviewString, err := json.Marshal(oneReview)
		if err != nil {
			fail("marshal: %v", err)
		}
		ack, err := js.Publish(SubjectNameReviewCreated, reviewString)
		if err != nil {
			fail("js.Publish(%s) review %s: %v", SubjectNameReviewCreated, oneReview.Id, err)
		}
		checkAck("js.Publish review "+oneReview.Id, ack, lastSeq)
		lastSeq = ack.Sequence
		log.Printf("Publisher  =>  Message: %q (seq %d)\n", oneReview.Text, ack.Sequence)
	}
	ok("js.Publish: %d reviews acked, sequences up to %d, one apart", len(reviews), lastSeq)
	return lastSeq
}

// publishAsyncBurst publishes the reviews over and over with PublishAsync, more than the
// pending limit, waits for every ack and checks them in publish order.
func publishAsyncBurst(js nats.JetStreamContext, lastSeq uint64) uint64 {
	futures := make([]nats.PubAckFuture, 0, asyncBurstCount)
	for i := 0; i < asyncBurstCount; i++ {
		data, err := json.Marshal(reviews[i%len(reviews)])
		if err != nil {
			fail("marshal: %v", err)
		}
		future, err := js.PublishAsync(SubjectNameReviewCreated, data)
		if err != nil {
			fail("PublishAsync #%d (%d pending): %v", i, js.PublishAsyncPending(), err)
		}
		if pending := js.PublishAsyncPending(); pending > publishAsyncMaxPending {
			fail("PublishAsync #%d: %d pending, over the limit of %d", i, pending,
				publishAsyncMaxPending)
		}
		futures = append(futures, future)
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(waitMax):
		fail("PublishAsyncComplete: %d acks still pending after %v", js.PublishAsyncPending(),
			waitMax)
	}
	for i, future := range futures {
		select {
		case ack := <-future.Ok():
			checkAck(fmt.Sprintf("PublishAsync #%d", i), ack, lastSeq)
			lastSeq = ack.Sequence
		case err := <-future.Err():
			fail("PublishAsync #%d: %v", i, err)
		case <-time.After(waitMax):
			fail("PublishAsync #%d: neither ack nor error", i)
		}
	}
	ok("PublishAsync: %d messages with at most %d pending, acked in order up to seq %d",
		asyncBurstCount, publishAsyncMaxPending, lastSeq)
	return lastSeq
}

// checkStreamState: what `StreamInfo` (or `nats stream info`) shows after the publishes.
func checkStreamState(js nats.JetStreamContext, count uint64) {
	info, err := js.StreamInfo(StreamName)
	if err != nil {
		fail("StreamInfo(%s): %v", StreamName, err)
	}
	s := info.State
	if s.Msgs != count || s.FirstSeq != 1 || s.LastSeq != count {
		fail("StreamInfo(%s) state: msgs %d first %d last %d, want %d stored as 1..%d",
			StreamName, s.Msgs, s.FirstSeq, s.LastSeq, count, count)
	}
	if s.Bytes == 0 {
		fail("StreamInfo(%s) state: %d messages in 0 bytes", StreamName, s.Msgs)
	}
	ok("StreamInfo(%s): %d messages, seq 1..%d, %d bytes", StreamName, s.Msgs, s.LastSeq, s.Bytes)
}

// consumer counts what a consumer callback received and checks its order.
type consumer struct {
	name     string
	mu       sync.Mutex
	count    uint64
	lastSeq  uint64
	problem  error
	want     uint64
	complete chan struct{}
}

func newConsumer(name string, want uint64) *consumer {
	return &consumer{name: name, want: want, complete: make(chan struct{})}
}

// receive is the user's callback body (Ack, then decode the review), with the count.
func (c *consumer) receive(m *nats.Msg) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := m.Ack(); err != nil {
		c.problem = fmt.Errorf("Ack: %v", err)
		return
	}
	var review Review
	if err := json.Unmarshal(m.Data, &review); err != nil {
		c.problem = fmt.Errorf("message %q is not a review: %v", m.Data, err)
		return
	}
	meta, err := m.Metadata()
	if err != nil {
		c.problem = fmt.Errorf("metadata: %v", err)
		return
	}
	if meta.Sequence.Stream <= c.lastSeq {
		c.problem = fmt.Errorf("stream sequence %d after %d", meta.Sequence.Stream, c.lastSeq)
		return
	}
	c.lastSeq = meta.Sequence.Stream
	c.count++
	if c.count <= uint64(len(reviews)) {
		log.Printf("Consumer(%s)  =>  Subject: %s  -  ID: %s  -  Author: %s  -  Rating: %d\n",
			c.name, m.Subject, review.Id, review.Author, review.Rating)
	}
	if c.count == c.want {
		close(c.complete)
	}
}

func (c *consumer) wait() {
	select {
	case <-c.complete:
	case <-time.After(waitMax):
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.problem != nil {
		fail("consumer %s: %v", c.name, c.problem)
	}
	if c.count != c.want {
		fail("consumer %s: %d of %d messages after %v", c.name, c.count, c.want, waitMax)
	}
	ok("consumer %s: all %d messages, acked, in stream order", c.name, c.count)
}

// consumeReviews is the user's push consumer on REVIEWS.rateGiven.
func consumeReviews(js nats.JetStreamContext, c *consumer) {
	_, err := js.Subscribe(SubjectNameReviewCreated, c.receive)
	if err != nil {
		fail("js.Subscribe(%s): %v", SubjectNameReviewCreated, err)
	}
}

// pullReviews: the tutorial's pull subscription, one Fetch of a batch.
func pullReviews(js nats.JetStreamContext) {
	const batch = 10
	sub, err := js.PullSubscribe(SubjectNameReviewCreated, "reviews-pull")
	if err != nil {
		fail("js.PullSubscribe(%s): %v", SubjectNameReviewCreated, err)
	}
	msgs, err := sub.Fetch(batch, nats.MaxWait(waitMax))
	if err != nil {
		fail("Fetch(%d): %v", batch, err)
	}
	if len(msgs) != batch {
		fail("Fetch(%d): %d messages", batch, len(msgs))
	}
	for i, m := range msgs {
		meta, err := m.Metadata()
		if err != nil {
			fail("Fetch: metadata: %v", err)
		}
		if meta.Sequence.Stream != uint64(i+1) {
			fail("Fetch: message %d has stream sequence %d", i, meta.Sequence.Stream)
		}
		if err := m.Ack(); err != nil {
			fail("Fetch: Ack: %v", err)
		}
	}
	ok("PullSubscribe + Fetch(%d): stream sequences 1..%d, acked", batch, batch)
}

func main() {
	url := flag.String("url", nats.DefaultURL, "server URL")
	phase := flag.String("phase", "first", "first | restart")
	consumers := flag.Bool("consumers", false, "also run the consumer parts (push, wildcard, pull)")
	delayMax := flag.Duration("delay", 20*time.Millisecond,
		"longest random pause before each review (the user's: 1.5s)")
	flag.Parse()
	if *phase != "first" && *phase != "restart" {
		fail("-phase %q: first or restart", *phase)
	}
	firstRun := *phase == "first"
	firstRunCount := uint64(len(reviews) + asyncBurstCount)

	log.Println("Starting...")
	nc, js := JetStreamInit(*url)
	defer nc.Close()
	stream := CreateStream(js, firstRun)

	if !firstRun {
		s := stream.State
		if s.Msgs != firstRunCount || s.LastSeq != firstRunCount {
			fail("after a restart the stream holds %d messages up to seq %d, want the %d "+
				"stored before", s.Msgs, s.LastSeq, firstRunCount)
		}
		ok("after a restart: the %d messages of the first run are there", s.Msgs)
		lastSeq := publishReviews(js, s.LastSeq, *delayMax)
		checkStreamState(js, lastSeq)
		log.Println("Exit...")
		return
	}

	// The user's main: publisher and consumer side by side.
	var pushed *consumer
	if *consumers {
		pushed = newConsumer("push "+SubjectNameReviewCreated, firstRunCount)
	}
	var wg sync.WaitGroup
	var lastSeq uint64
	wg.Add(1)
	go func() {
		defer wg.Done()
		lastSeq = publishReviews(js, 0, *delayMax)
		lastSeq = publishAsyncBurst(js, lastSeq)
	}()
	if *consumers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			consumeReviews(js, pushed)
		}()
	}
	wg.Wait()
	checkStreamState(js, lastSeq)
	if *consumers {
		pushed.wait()
		wildcard := newConsumer("push "+StreamSubjects, lastSeq)
		if _, err := js.Subscribe(StreamSubjects, wildcard.receive); err != nil {
			fail("js.Subscribe(%s): %v", StreamSubjects, err)
		}
		wildcard.wait()
		pullReviews(js)
	}
	log.Println("Exit...")
}
