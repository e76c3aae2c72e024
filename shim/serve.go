package shim

import (
	"context"
	"errors"
	"net"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/containerd/fifo"
	"github.com/containerd/ttrpc"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/berth-oci/berth/shim/lite"
)

// runDaemon is the shim daemon: it serves the task API on the socket the
// start action handed it as fd 3 (or on -socket) until Shutdown, SIGTERM or
// SIGINT. Its working directory is the first container's bundle, where
// containerd reads its log from the "log" fifo.
func runDaemon(f *lite.Flags) error {
	if f.Debug {
		logrus.SetLevel(logrus.DebugLevel)
	}
	logrus.SetFormatter(&logrus.TextFormatter{DisableColors: true, FullTimestamp: true})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Writing to the log fifo after containerd went away must not kill
	// the shim with SIGPIPE. (Notify, not Ignore: an ignored signal would
	// stay ignored in the containers' processes.)
	signal.Notify(make(chan os.Signal, 1), unix.SIGPIPE)
	if logf, err := fifo.OpenFifoDup2(ctx, "log", unix.O_WRONLY, 0o700, int(os.Stderr.Fd())); err == nil {
		logrus.SetOutput(logf)
	}
	logger := logrus.WithFields(logrus.Fields{"namespace": f.Namespace, "pid": os.Getpid(), "runtime": "io.containerd.berth.v2"})
	// Nothing uses the working directory from here on; leave the bundle,
	// which containerd removes with the first container.
	_ = os.Chdir("/")

	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return err
	}
	var l net.Listener
	var err error
	if f.Socket != "" {
		l, err = net.Listen("unix", lite.SocketPath(f.Socket))
	} else {
		l, err = net.FileListener(os.NewFile(3, "socket"))
	}
	if err != nil {
		return err
	}
	address := "unix://" + l.Addr().String()

	server, err := ttrpc.NewServer(ttrpc.WithServerHandshaker(ttrpc.UnixSocketRequireSameUser()))
	if err != nil {
		return err
	}
	pub := newPublisher(os.Getenv("TTRPC_ADDRESS"), f.Namespace)
	var stopOnce sync.Once
	stop := func() { stopOnce.Do(cancel) }
	svc := newService(f.Namespace, pub, newReaper(), stop)
	register(server, svc)

	exit := make(chan os.Signal, 1)
	signal.Notify(exit, unix.SIGTERM, unix.SIGINT)
	go func() {
		select {
		case s := <-exit:
			logger.WithField("signal", s).Info("shim stopping")
			stop()
		case <-ctx.Done():
		}
	}()
	served := make(chan error, 1)
	go func() { served <- server.Serve(ctx, l) }()
	logger.WithField("address", address).Debug("serving the task API")

	select {
	case err = <-served:
	case <-ctx.Done():
	}
	// Shutdown: answer the call in flight, then go.
	sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
	_ = server.Shutdown(sctx)
	scancel()
	lite.RemoveSocket(address)
	pub.close(5 * time.Second)
	if err != nil && !errors.Is(err, ttrpc.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}
