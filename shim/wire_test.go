package shim

import (
	"testing"
	"time"

	eventsapi "github.com/containerd/containerd/api/events"
	taskapi "github.com/containerd/containerd/api/runtime/task/v2"
	eventsvc "github.com/containerd/containerd/api/services/ttrpc/events/v1"
	"github.com/containerd/containerd/api/types"
	runcopts "github.com/containerd/containerd/api/types/runc/options"
	"github.com/containerd/containerd/api/types/task"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/berth-oci/berth/shim/internal/wiretest"
	"github.com/berth-oci/berth/shim/lite"
)

// The hand-written codec against containerd's generated messages (which
// only the tests link): requests encoded by containerd decode here, and
// what the shim encodes decodes there with every field.

var at = time.Date(2026, 12, 4, 13, 14, 15, 161718, time.UTC)

func TestWireRequests(t *testing.T) {
	opts := wiretest.PbAny(t, &runcopts.Options{Root: "/r"})
	r, err := decodeRequest(reqCreate, wiretest.Marshal(t, &taskapi.CreateTaskRequest{
		ID: "c", Bundle: "/b", Terminal: true, Stdin: "i", Stdout: "o", Stderr: "e", Checkpoint: "ck", ParentCheckpoint: "pk", Options: opts,
		Rootfs: []*types.Mount{{Type: "overlay", Source: "overlay", Target: "t", Options: []string{"lowerdir=/a", "", "ro"}}, {Type: "bind"}},
	}))
	if err != nil || r.ID != "c" || r.Bundle != "/b" || !r.Terminal || r.Stdin != "i" || r.Stdout != "o" || r.Stderr != "e" ||
		r.Checkpoint != "ck" || r.ParentCheckpoint != "pk" || r.Options.TypeURL != "containerd.runc.v1.Options" ||
		len(r.Rootfs) != 2 || r.Rootfs[0].Type != "overlay" || r.Rootfs[0].Target != "t" || len(r.Rootfs[0].Options) != 3 || r.Rootfs[0].Options[2] != "ro" || r.Rootfs[1].Type != "bind" {
		t.Errorf("create: %+v %v", r, err)
	}
	if o, err := lite.ParseOptions(r.Options); err != nil || o.Root != "/r" {
		t.Errorf("create options: %+v %v", o, err)
	}
	r, err = decodeRequest(reqExec, wiretest.Marshal(t, &taskapi.ExecProcessRequest{ID: "c", ExecID: "x", Terminal: true, Stdin: "i", Stdout: "o", Stderr: "e", Spec: &anypb.Any{TypeUrl: "p", Value: []byte(`{"args":["a"]}`)}}))
	if err != nil || r.ExecID != "x" || !r.Terminal || r.Stdin != "i" || r.Stdout != "o" || r.Stderr != "e" || string(r.Spec.Value) != `{"args":["a"]}` {
		t.Errorf("exec: %+v %v", r, err)
	}
	r, err = decodeRequest(reqKill, wiretest.Marshal(t, &taskapi.KillRequest{ID: "c", ExecID: "x", Signal: 9, All: true}))
	if err != nil || r.ExecID != "x" || r.Signal != 9 || !r.All {
		t.Errorf("kill: %+v %v", r, err)
	}
	r, err = decodeRequest(reqResize, wiretest.Marshal(t, &taskapi.ResizePtyRequest{ID: "c", ExecID: "x", Width: 100, Height: 40}))
	if err != nil || r.Width != 100 || r.Height != 40 || r.ExecID != "x" {
		t.Errorf("resize: %+v %v", r, err)
	}
	r, err = decodeRequest(reqCloseIO, wiretest.Marshal(t, &taskapi.CloseIORequest{ID: "c", ExecID: "x", Stdin: true}))
	if err != nil || !r.CloseStdin || r.ExecID != "x" {
		t.Errorf("closeio: %+v %v", r, err)
	}
	ck := wiretest.PbAny(t, &runcopts.CheckpointOptions{Exit: true, OpenTcp: true, EmptyNamespaces: []string{"network"}, CgroupsMode: "soft", ImagePath: "/i", WorkPath: "/w"})
	r, err = decodeRequest(reqCheckpoint, wiretest.Marshal(t, &taskapi.CheckpointTaskRequest{ID: "c", Path: "/p", Options: ck}))
	if err != nil || r.Path != "/p" || r.Options == nil {
		t.Fatalf("checkpoint: %+v %v", r, err)
	}
	co, err := decodeCheckpointOptions(r.Options.Value)
	if err != nil || !co.Exit || !co.OpenTCP || len(co.EmptyNamespaces) != 1 || co.CgroupsMode != "soft" || co.ImagePath != "/i" || co.WorkPath != "/w" {
		t.Errorf("checkpoint options: %+v %v", co, err)
	}
	r, err = decodeRequest(reqUpdate, wiretest.Marshal(t, &taskapi.UpdateTaskRequest{ID: "c", Resources: &anypb.Any{TypeUrl: "x/LinuxResources", Value: []byte("{}")}, Annotations: map[string]string{"a": "b"}}))
	if err != nil || r.Resources.TypeURL != "x/LinuxResources" {
		t.Errorf("update: %+v %v", r, err)
	}
	r, err = decodeRequest(reqShutdown, wiretest.Marshal(t, &taskapi.ShutdownRequest{ID: "c", Now: true}))
	if err != nil || !r.Now {
		t.Errorf("shutdown: %+v %v", r, err)
	}
	for _, m := range []proto.Message{&taskapi.StateRequest{ID: "c", ExecID: "x"}, &taskapi.WaitRequest{ID: "c", ExecID: "x"}, &taskapi.DeleteRequest{ID: "c", ExecID: "x"}, &taskapi.StartRequest{ID: "c", ExecID: "x"}} {
		if r, err := decodeRequest(reqID, wiretest.Marshal(t, m)); err != nil || r.ID != "c" || r.ExecID != "x" {
			t.Errorf("%T: %+v %v", m, r, err)
		}
	}
	if _, err := decodeRequest(reqCreate, []byte{0x0a, 0x05, 'a'}); err == nil {
		t.Error("a truncated message decoded")
	}
}

func TestWireResponses(t *testing.T) {
	var st taskapi.StateResponse
	wiretest.Unmarshal(t, (&stateResponse{ID: "c", Bundle: "/b", Pid: 7, Status: statusPaused, Stdin: "i", Stdout: "o", Stderr: "e", Terminal: true, ExitStatus: 137, ExitedAt: at, ExecID: "x"}).encode(), &st)
	if st.ID != "c" || st.Bundle != "/b" || st.Pid != 7 || st.Status != task.Status_PAUSED || st.Stdin != "i" || st.Stdout != "o" || st.Stderr != "e" ||
		!st.Terminal || st.ExitStatus != 137 || !st.ExitedAt.AsTime().Equal(at) || st.ExecID != "x" {
		t.Errorf("state: %v", &st)
	}
	for want, v := range map[taskStatus]task.Status{statusCreated: task.Status_CREATED, statusRunning: task.Status_RUNNING, statusStopped: task.Status_STOPPED, statusPausing: task.Status_PAUSING} {
		if taskStatus(v) != want {
			t.Errorf("status %d is %v", want, v)
		}
	}
	var del taskapi.DeleteResponse
	wiretest.Unmarshal(t, lite.ExitResponse(7, 3, at), &del)
	if del.Pid != 7 || del.ExitStatus != 3 || !del.ExitedAt.AsTime().Equal(at) {
		t.Errorf("delete: %v", &del)
	}
	var pids taskapi.PidsResponse
	wiretest.Unmarshal(t, pidsResponse([]processInfo{{Pid: 1}, {Pid: 2, Info: processDetails("x")}}), &pids)
	if len(pids.Processes) != 2 || pids.Processes[1].Pid != 2 || pids.Processes[1].Info.GetTypeUrl() != "containerd.runc.v1.ProcessDetails" {
		t.Fatalf("pids: %v", &pids)
	}
	var pd runcopts.ProcessDetails
	wiretest.Unmarshal(t, pids.Processes[1].Info.GetValue(), &pd)
	if pd.ExecID != "x" {
		t.Errorf("process details: %v", &pd)
	}
	var w taskapi.WaitResponse
	wiretest.Unmarshal(t, waitResponse(4, at), &w)
	if w.ExitStatus != 4 || !w.ExitedAt.AsTime().Equal(at) {
		t.Errorf("wait: %v", &w)
	}
	var c taskapi.ConnectResponse
	wiretest.Unmarshal(t, connectResponse(10, 11), &c)
	if c.ShimPid != 10 || c.TaskPid != 11 {
		t.Errorf("connect: %v", &c)
	}
	var sr taskapi.StatsResponse
	wiretest.Unmarshal(t, statsResponse(&lite.Any{TypeURL: "t", Value: []byte{1}}), &sr)
	if sr.Stats.GetTypeUrl() != "t" {
		t.Errorf("stats: %v", &sr)
	}
	var cr taskapi.CreateTaskResponse
	wiretest.Unmarshal(t, pidResponse(42), &cr)
	if cr.Pid != 42 {
		t.Errorf("create: %v", &cr)
	}
	// A time before 1970 (containerd's zero exit time) survives as well.
	old := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Second)
	wiretest.Unmarshal(t, waitResponse(0, old), &w)
	if !w.ExitedAt.AsTime().Equal(old) {
		t.Errorf("old time: %v", w.ExitedAt.AsTime())
	}
}

func TestWireEvents(t *testing.T) {
	var fr eventsvc.ForwardRequest
	wiretest.Unmarshal(t, forwardRequest(at, "ns", topicExit, evExit("c", "x", 7, 137, at)), &fr)
	env := fr.Envelope
	if env.Namespace != "ns" || env.Topic != topicExit || !env.Timestamp.AsTime().Equal(at) || env.Event.GetTypeUrl() != "containerd.events.TaskExit" {
		t.Fatalf("envelope: %v", env)
	}
	var ex eventsapi.TaskExit
	wiretest.Unmarshal(t, env.Event.GetValue(), &ex)
	if ex.ContainerID != "c" || ex.ID != "x" || ex.Pid != 7 || ex.ExitStatus != 137 || !ex.ExitedAt.AsTime().Equal(at) {
		t.Errorf("exit: %v", &ex)
	}
	check := func(ev event, m proto.Message, ok func() bool) {
		t.Helper()
		if want := string(m.ProtoReflect().Descriptor().FullName()); ev.typeName != want {
			t.Errorf("type %s, want %s", ev.typeName, want)
		}
		wiretest.Unmarshal(t, ev.data, m)
		if !ok() {
			t.Errorf("%s: %v", ev.typeName, m)
		}
	}
	var cr eventsapi.TaskCreate
	check(evCreate("c", "/b", []mount{{Type: "overlay", Options: []string{"ro"}}}, stdio{"i", "o", "e", true}, "ck", 5), &cr, func() bool {
		return cr.ContainerID == "c" && cr.Bundle == "/b" && len(cr.Rootfs) == 1 && cr.Rootfs[0].Options[0] == "ro" && cr.IO.Stdin == "i" && cr.IO.Stdout == "o" && cr.IO.Stderr == "e" && cr.IO.Terminal && cr.Checkpoint == "ck" && cr.Pid == 5
	})
	var st eventsapi.TaskStart
	check(evStart("c", 5), &st, func() bool { return st.ContainerID == "c" && st.Pid == 5 })
	var de eventsapi.TaskDelete
	check(evDelete("c", 5, 1, at), &de, func() bool {
		return de.ContainerID == "c" && de.Pid == 5 && de.ExitStatus == 1 && de.ExitedAt.AsTime().Equal(at)
	})
	var ea eventsapi.TaskExecAdded
	check(evExecAdded("c", "x"), &ea, func() bool { return ea.ContainerID == "c" && ea.ExecID == "x" })
	var es eventsapi.TaskExecStarted
	check(evExecStarted("c", "x", 9), &es, func() bool { return es.ContainerID == "c" && es.ExecID == "x" && es.Pid == 9 })
	var pa eventsapi.TaskPaused
	check(evPaused("c"), &pa, func() bool { return pa.ContainerID == "c" })
	var re eventsapi.TaskResumed
	check(evResumed("c"), &re, func() bool { return re.ContainerID == "c" })
	var oom eventsapi.TaskOOM
	check(evOOM("c"), &oom, func() bool { return oom.ContainerID == "c" })
	var ck eventsapi.TaskCheckpointed
	check(evCheckpointed("c", "/p"), &ck, func() bool { return ck.ContainerID == "c" && ck.Checkpoint == "/p" })
}

func TestWireInfo(t *testing.T) {
	var ri types.RuntimeInfo
	wiretest.Unmarshal(t, runtimeInfo("io.containerd.berth.v2", "1.0", "abc", &lite.Any{TypeURL: "o"}, &lite.Any{TypeURL: featuresTypeURL, Value: []byte("{}")}), &ri)
	if ri.Name != "io.containerd.berth.v2" || ri.Version.GetVersion() != "1.0" || ri.Version.GetRevision() != "abc" || ri.Options.GetTypeUrl() != "o" || ri.Features.GetTypeUrl() != featuresTypeURL {
		t.Errorf("runtime info: %v", &ri)
	}
}

// FuzzDecodeRequest: whatever bytes arrive on the socket, decoding returns
// a request or an error, never panics, for every request layout.
func FuzzDecodeRequest(f *testing.F) {
	for _, m := range []proto.Message{
		&taskapi.CreateTaskRequest{ID: "c", Bundle: "/b", Rootfs: []*types.Mount{{Type: "overlay", Options: []string{"ro"}}}, Options: &anypb.Any{TypeUrl: "t", Value: []byte{8, 1}}},
		&taskapi.ExecProcessRequest{ID: "c", ExecID: "x", Spec: &anypb.Any{TypeUrl: "p", Value: []byte("{}")}},
		&taskapi.KillRequest{ID: "c", Signal: 9, All: true},
	} {
		b, _ := proto.Marshal(m)
		f.Add(b)
	}
	f.Add([]byte{0x0a, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		for kind := reqID; kind <= reqShutdown; kind++ {
			r, err := decodeRequest(kind, b)
			if err == nil && r == nil {
				t.Fatal("no request and no error")
			}
		}
		_, _ = decodeCheckpointOptions(b)
	})
}
