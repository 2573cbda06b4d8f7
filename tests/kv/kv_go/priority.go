// A pull consumer's pinned_client priority group through nats.go's own API, run with
// -part kv (main.go): Fetch with FetchPriorityGroup, the pin id nats.go keeps per Consumer
// handle from the Nats-Pin-Id it is delivered with, a second handle (another client) that
// gets nothing while the first is pinned, ConsumerInfo's PriorityGroups, and
// Stream.UnpinConsumer handing the pin to the next client that asks. About a second.
package main

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

const (
	prioStream   = "PRIO"
	prioConsumer = "PIN"
	prioGroup    = "A"
	// How long a Fetch that must get nothing waits: the other client is pinned meanwhile.
	prioQuietWait = 500 * time.Millisecond
)

// prioFetchOne fetches one message with consumer handle c and returns its body and pin
// id; an empty body when none came within wait.
func prioFetchOne(c jetstream.Consumer, wait time.Duration) (string, string, error) {
	batch, err := c.Fetch(1, jetstream.FetchPriorityGroup(prioGroup), jetstream.FetchMaxWait(wait))
	if err != nil {
		return "", "", fmt.Errorf("Fetch: %w", err)
	}
	body, pin := "", ""
	for msg := range batch.Messages() {
		body, pin = string(msg.Data()), msg.Headers().Get("Nats-Pin-Id")
		if err := msg.Ack(); err != nil {
			return "", "", fmt.Errorf("Ack: %w", err)
		}
	}
	if err := batch.Error(); err != nil {
		return "", "", fmt.Errorf("Fetch: %w", err)
	}
	return body, pin, nil
}

func prioritySteps(js jetstream.JetStream, s *steps) {
	s.run("prio.pinned_client", func(ctx context.Context) (string, error) {
		stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: prioStream,
			Subjects: []string{"prio.>"}, Storage: jetstream.MemoryStorage})
		if err != nil {
			return "", err
		}
		defer js.DeleteStream(context.Background(), prioStream)
		pinned, err := stream.CreateConsumer(ctx, jetstream.ConsumerConfig{Durable: prioConsumer,
			AckPolicy: jetstream.AckExplicitPolicy, PriorityGroups: []string{prioGroup},
			PriorityPolicy: jetstream.PriorityPolicyPinned, PinnedTTL: 5 * time.Second})
		if err != nil {
			return "", fmt.Errorf("CreateConsumer: %w", err)
		}
		for i := 1; i <= 3; i++ {
			if _, err := js.Publish(ctx, "prio.x", []byte(fmt.Sprintf("m%d", i))); err != nil {
				return "", err
			}
		}
		body, pin, err := prioFetchOne(pinned, 2*time.Second)
		if err != nil {
			return "", err
		}
		if err := check(body == "m1" && len(pin) == 22, "first fetch: %q with pin %q", body, pin); err != nil {
			return "", err
		}
		other, err := stream.Consumer(ctx, prioConsumer) // another client: no pin
		if err != nil {
			return "", err
		}
		if body, _, err = prioFetchOne(other, prioQuietWait); err != nil || body != "" {
			return "", first(err, failf("a client not pinned got %q", body))
		}
		body, again, err := prioFetchOne(pinned, 2*time.Second)
		if err != nil {
			return "", err
		}
		if err := check(body == "m2" && again == pin, "pinned fetch: %q with pin %q, want m2 with %q", body, again, pin); err != nil {
			return "", err
		}
		info, err := pinned.Info(ctx)
		if err != nil {
			return "", err
		}
		if err := check(len(info.PriorityGroups) == 1 && info.PriorityGroups[0].Group == prioGroup &&
			info.PriorityGroups[0].PinnedClientID == pin, "info's priority groups %+v", info.PriorityGroups); err != nil {
			return "", err
		}
		if err := stream.UnpinConsumer(ctx, prioConsumer, prioGroup); err != nil {
			return "", fmt.Errorf("UnpinConsumer: %w", err)
		}
		body, next, err := prioFetchOne(other, 2*time.Second)
		if err != nil {
			return "", err
		}
		if err := check(body == "m3" && len(next) == 22 && next != pin, "after UNPIN: %q with pin %q (was %q)", body, next, pin); err != nil {
			return "", err
		}
		return fmt.Sprintf("pinned %s, another client waited, pinned %s after UNPIN", pin, next), nil
	})
}
