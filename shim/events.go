package shim

import (
	"context"
	"net"
	"strings"
	"sync"
	"time"

	eventsapi "github.com/containerd/containerd/api/services/ttrpc/events/v1"
	"github.com/containerd/containerd/api/types"
	"github.com/containerd/ttrpc"
	"github.com/sirupsen/logrus"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// namespaceHeader is the ttrpc metadata key that carries containerd's
// namespace.
const namespaceHeader = "containerd-namespace-ttrpc"

// publisher forwards events to containerd's ttrpc events service, in order,
// from one goroutine. It redials containerd when the connection breaks (a
// restarted containerd) and keeps retrying an event until it is delivered
// or the publisher is closed with the queue drained as far as possible.
type publisher struct {
	address string
	ns      string
	queue   chan *types.Envelope
	done    chan struct{}
	once    sync.Once

	client *ttrpc.Client
}

func newPublisher(address, ns string) *publisher {
	p := &publisher{
		address: strings.TrimPrefix(address, "unix://"),
		ns:      ns,
		queue:   make(chan *types.Envelope, 1024),
		done:    make(chan struct{}),
	}
	go p.run()
	return p
}

// publish queues an event (one of containerd's api/events messages) for
// topic.
func (p *publisher) publish(topic string, event proto.Message) {
	a, err := anypb.New(event)
	if err != nil {
		logrus.WithError(err).WithField("topic", topic).Error("marshal event")
		return
	}
	// containerd's type URLs are the bare message names.
	a.TypeUrl = typeName(a.TypeUrl)
	env := &types.Envelope{Timestamp: timestamppb.Now(), Namespace: p.ns, Topic: topic, Event: a}
	select {
	case p.queue <- env:
	case <-p.done:
	}
}

// close stops the publisher after the queued events were sent, waiting at
// most timeout.
func (p *publisher) close(timeout time.Duration) {
	p.once.Do(func() {
		close(p.queue)
		select {
		case <-p.done:
		case <-time.After(timeout):
		}
	})
}

func (p *publisher) run() {
	defer close(p.done)
	for env := range p.queue {
		p.forward(env)
	}
	if p.client != nil {
		p.client.Close()
	}
}

// forward delivers one envelope, retrying with a growing delay: containerd
// may be restarting. An event is given up after about a minute.
func (p *publisher) forward(env *types.Envelope) {
	delay := 50 * time.Millisecond
	deadline := time.Now().Add(time.Minute)
	for {
		err := p.send(env)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			logrus.WithError(err).WithField("topic", env.Topic).Error("event not delivered to containerd")
			return
		}
		logrus.WithError(err).WithField("topic", env.Topic).Debug("forward event; retrying")
		time.Sleep(delay)
		delay = min(2*delay, 2*time.Second)
	}
}

func (p *publisher) send(env *types.Envelope) error {
	if p.client == nil {
		conn, err := net.DialTimeout("unix", p.address, 5*time.Second)
		if err != nil {
			return err
		}
		p.client = ttrpc.NewClient(conn)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctx = ttrpc.WithMetadata(ctx, ttrpc.MD{namespaceHeader: []string{p.ns}})
	_, err := eventsapi.NewTTRPCEventsClient(p.client).Forward(ctx, &eventsapi.ForwardRequest{Envelope: env})
	if err != nil {
		p.client.Close()
		p.client = nil
	}
	return err
}
