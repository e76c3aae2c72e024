package shim

import (
	"context"

	"github.com/containerd/ttrpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Task API versions. containerd 1.6 to 2.2 speak containerd.task.v2.Task;
// containerd 2.3 and later, started through the bootstrap protocol, are
// told (BootstrapResult.version 3) to speak containerd.task.v3.Task. The two
// services have the same methods and messages, field for field (v3's
// shim.proto differs from v2's only in its package name): one set of
// handlers serves both (see wire.go for the messages).
var taskServices = []string{"containerd.task.v2.Task", "containerd.task.v3.Task"}

func register(srv *ttrpc.Server, s *service) {
	desc := &ttrpc.ServiceDesc{Methods: map[string]ttrpc.Method{
		"State":      method(reqID, s.State),
		"Create":     method(reqCreate, s.Create),
		"Start":      method(reqID, s.Start),
		"Delete":     method(reqID, s.Delete),
		"Pids":       method(reqID, s.Pids),
		"Pause":      method(reqID, s.Pause),
		"Resume":     method(reqID, s.Resume),
		"Checkpoint": method(reqCheckpoint, s.Checkpoint),
		"Kill":       method(reqKill, s.Kill),
		"Exec":       method(reqExec, s.Exec),
		"ResizePty":  method(reqResize, s.ResizePty),
		"CloseIO":    method(reqCloseIO, s.CloseIO),
		"Update":     method(reqUpdate, s.Update),
		"Wait":       method(reqID, s.Wait),
		"Stats":      method(reqID, s.Stats),
		"Connect":    method(reqID, s.Connect),
		"Shutdown":   method(reqShutdown, s.Shutdown),
	}}
	for _, name := range taskServices {
		srv.RegisterService(name, desc)
	}
}

// method adapts a handler to ttrpc: the request is decoded from the
// message's bytes, the handler's answer encoded (nil: an empty message).
func method(kind requestKind, h func(context.Context, *taskRequest) ([]byte, error)) ttrpc.Method {
	return func(ctx context.Context, unmarshal func(any) error) (any, error) {
		var in emptypb.Empty
		if err := unmarshal(&in); err != nil {
			return nil, err
		}
		req, err := decodeRequest(kind, wireBytes(&in))
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "decode the request: %v", err)
		}
		out, err := h(ctx, req)
		if err != nil {
			return nil, err
		}
		return wireMsg(out), nil
	}
}
