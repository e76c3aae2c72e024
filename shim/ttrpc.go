package shim

import (
	"context"

	taskapi "github.com/containerd/containerd/api/runtime/task/v2"
	"github.com/containerd/ttrpc"
	"google.golang.org/protobuf/proto"
)

// Task API versions. containerd 1.6 to 2.2 speak containerd.task.v2.Task;
// containerd 2.3 and later, started through the bootstrap protocol, are
// told (BootstrapResult.version 3) to speak containerd.task.v3.Task. The two
// services have the same methods and messages, field for field (v3's
// shim.proto differs from v2's only in its package name), so one set of
// handlers decodes either; the v3 Go package is not linked, since it brings
// the whole gRPC runtime with it.
var taskServices = []string{"containerd.task.v2.Task", "containerd.task.v3.Task"}

func register(srv *ttrpc.Server, s *service) {
	desc := &ttrpc.ServiceDesc{Methods: map[string]ttrpc.Method{
		"State":      method(s.State),
		"Create":     method(s.Create),
		"Start":      method(s.Start),
		"Delete":     method(s.Delete),
		"Pids":       method(s.Pids),
		"Pause":      method(s.Pause),
		"Resume":     method(s.Resume),
		"Checkpoint": method(s.Checkpoint),
		"Kill":       method(s.Kill),
		"Exec":       method(s.Exec),
		"ResizePty":  method(s.ResizePty),
		"CloseIO":    method(s.CloseIO),
		"Update":     method(s.Update),
		"Wait":       method(s.Wait),
		"Stats":      method(s.Stats),
		"Connect":    method(s.Connect),
		"Shutdown":   method(s.Shutdown),
	}}
	for _, name := range taskServices {
		srv.RegisterService(name, desc)
	}
}

// method adapts a typed handler to ttrpc.
func method[Req any, PReq interface {
	*Req
	proto.Message
}, Resp proto.Message](h func(context.Context, PReq) (Resp, error)) ttrpc.Method {
	return func(ctx context.Context, unmarshal func(any) error) (any, error) {
		req := PReq(new(Req))
		if err := unmarshal(req); err != nil {
			return nil, err
		}
		return h(ctx, req)
	}
}

// The handlers implement the v2 service.
var _ taskapi.TTRPCTaskService = (*service)(nil)
