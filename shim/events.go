package shim

import (
	"context"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/containerd/ttrpc"
	"github.com/sirupsen/logrus"
	"google.golang.org/protobuf/types/known/emptypb"
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
	queue   chan envelope
	done    chan struct{}
	once    sync.Once

	client *ttrpc.Client
}

func newPublisher(address, ns string) *publisher {
	p := &publisher{
		address: strings.TrimPrefix(address, "unix://"),
		ns:      ns,
		queue:   make(chan envelope, 1024),
		done:    make(chan struct{}),
	}
	go p.run()
	return p
}

// envelope is one event to forward.
type envelope struct {
	topic string
	data  []byte // the ForwardRequest
}

// publish queues an event for topic.
func (p *publisher) publish(topic string, ev event) {
	env := envelope{topic: topic, data: forwardRequest(time.Now(), p.ns, topic, ev)}
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
func (p *publisher) forward(env envelope) {
	delay := 50 * time.Millisecond
	deadline := time.Now().Add(time.Minute)
	for {
		err := p.send(env)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			logrus.WithError(err).WithField("topic", env.topic).Error("event not delivered to containerd")
			return
		}
		logrus.WithError(err).WithField("topic", env.topic).Debug("forward event; retrying")
		time.Sleep(delay)
		delay = min(2*delay, 2*time.Second)
	}
}

func (p *publisher) send(env envelope) error {
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
	err := p.client.Call(ctx, "containerd.services.events.ttrpc.v1.Events", "Forward", wireMsg(env.data), &emptypb.Empty{})
	if err != nil {
		p.client.Close()
		p.client = nil
	}
	return err
}
