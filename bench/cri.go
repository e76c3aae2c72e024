package main

// A minimal client of the CRI runtime service (runtime.v1), as the kubelet
// calls it: the messages the containerd scenarios send, encoded with
// protowire. The generated cri-api package is not used: it would raise the
// grpc and protobuf versions of the whole module (the shim's and the
// runtime's too) for the benchmark's sake. The field numbers are those of
// k8s.io/cri-api v0.37.0's api.proto.

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

const criService = "/runtime.v1.RuntimeService/"

// criClient talks gRPC to the CRI plugin of one containerd: HTTP/2 without
// TLS on its Unix socket (net/http's own, no grpc-go: that would add
// golang.org/x/text and more to the module for the benchmark's sake),
// one length-prefixed message each way, the status in the trailers.
type criClient struct {
	http    *http.Client
	timeout time.Duration
}

func dialCRI(sock string) (*criClient, error) {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
		Protocols: new(http.Protocols),
	}
	tr.Protocols.SetUnencryptedHTTP2(true)
	return &criClient{http: &http.Client{Transport: tr}, timeout: 60 * time.Second}, nil
}

func (c *criClient) close() { c.http.CloseIdleConnections() }

func (c *criClient) call(method string, req []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	frame := make([]byte, 5, 5+len(req))
	binary.BigEndian.PutUint32(frame[1:], uint32(len(req)))
	frame = append(frame, req...)
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://localhost"+criService+method, bytes.NewReader(frame))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", "application/grpc")
	hr.Header.Set("TE", "trailers")
	hr.Header.Set("grpc-timeout", strconv.FormatInt(c.timeout.Milliseconds(), 10)+"m")
	resp, err := c.http.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("CRI %s: %w", method, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("CRI %s: %w", method, err)
	}
	status := resp.Trailer.Get("grpc-status")
	if status == "" { // a trailers-only answer
		status = resp.Header.Get("grpc-status")
	}
	if resp.StatusCode != http.StatusOK || status != "0" {
		msg := resp.Trailer.Get("grpc-message")
		if msg == "" {
			msg = resp.Header.Get("grpc-message")
		}
		return nil, fmt.Errorf("CRI %s: HTTP %d, gRPC status %s: %s", method, resp.StatusCode, status, msg)
	}
	if len(body) < 5 || body[0] != 0 || int(binary.BigEndian.Uint32(body[1:5])) != len(body)-5 {
		return nil, fmt.Errorf("CRI %s: a response of %d bytes is no single uncompressed message", method, len(body))
	}
	return body[5:], nil
}

// ---- encoding ----

type pb []byte

func (m pb) str(num protowire.Number, s string) pb {
	if s == "" {
		return m
	}
	m = protowire.AppendTag(m, num, protowire.BytesType)
	return protowire.AppendString(m, s)
}

func (m pb) msg(num protowire.Number, sub pb) pb {
	m = protowire.AppendTag(m, num, protowire.BytesType)
	return protowire.AppendBytes(m, sub)
}

func (m pb) varint(num protowire.Number, v uint64) pb {
	if v == 0 {
		return m
	}
	m = protowire.AppendTag(m, num, protowire.VarintType)
	return protowire.AppendVarint(m, v)
}

func (m pb) strs(num protowire.Number, ss []string) pb {
	for _, s := range ss {
		m = protowire.AppendTag(m, num, protowire.BytesType)
		m = protowire.AppendString(m, s)
	}
	return m
}

// fields decodes the top-level fields of a message: bytes fields as their
// contents, varints as their value.
func fields(b []byte) (map[protowire.Number][]byte, map[protowire.Number]uint64, error) {
	bs, vs := map[protowire.Number][]byte{}, map[protowire.Number]uint64{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, nil, protowire.ParseError(n)
		}
		b = b[n:]
		switch typ {
		case protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, nil, protowire.ParseError(n)
			}
			bs[num] = v
			b = b[n:]
		case protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return nil, nil, protowire.ParseError(n)
			}
			vs[num] = v
			b = b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return nil, nil, protowire.ParseError(n)
			}
			b = b[n:]
		}
	}
	return bs, vs, nil
}

// ---- messages ----

// podConfig is a PodSandboxConfig: metadata, a log directory, and a Linux
// part with the cgroup parent and the host network (NamespaceOption.network
// = NODE, 2: no CNI).
func podConfig(name, uid, namespace, logDir, cgroupParent string) pb {
	meta := pb(nil).str(1, name).str(2, uid).str(3, namespace)
	nsOpts := pb(nil).varint(1, 2)
	secCtx := pb(nil).msg(1, nsOpts)
	linux := pb(nil).str(1, cgroupParent).msg(2, secCtx)
	return pb(nil).msg(1, meta).str(3, logDir).msg(8, linux)
}

// containerConfig is a ContainerConfig: metadata, the image, the command
// and the log path (relative to the pod's log directory).
func containerConfig(name, image, logPath string, command ...string) pb {
	meta := pb(nil).str(1, name)
	img := pb(nil).str(1, image)
	return pb(nil).msg(1, meta).msg(2, img).strs(3, command).str(11, logPath)
}

// runPodSandbox returns the new sandbox's id.
func (c *criClient) runPodSandbox(config pb, handler string) (string, error) {
	resp, err := c.call("RunPodSandbox", pb(nil).msg(1, config).str(2, handler))
	if err != nil {
		return "", err
	}
	return idField(resp, "RunPodSandbox")
}

func (c *criClient) createContainer(pod string, config, podConfig pb) (string, error) {
	resp, err := c.call("CreateContainer", pb(nil).str(1, pod).msg(2, config).msg(3, podConfig))
	if err != nil {
		return "", err
	}
	return idField(resp, "CreateContainer")
}

func (c *criClient) startContainer(id string) error {
	_, err := c.call("StartContainer", pb(nil).str(1, id))
	return err
}

// execSync runs cmd in the container and fails unless it exits 0.
func (c *criClient) execSync(id string, timeoutS int, cmd ...string) error {
	resp, err := c.call("ExecSync", pb(nil).str(1, id).strs(2, cmd).varint(3, uint64(timeoutS)))
	if err != nil {
		return err
	}
	bs, vs, err := fields(resp)
	if err != nil {
		return fmt.Errorf("ExecSync response: %w", err)
	}
	if code := int32(vs[3]); code != 0 {
		return fmt.Errorf("ExecSync %v: exit code %d: %s%s", cmd, code, bs[1], bs[2])
	}
	return nil
}

func (c *criClient) stopPodSandbox(id string) error {
	_, err := c.call("StopPodSandbox", pb(nil).str(1, id))
	return err
}

func (c *criClient) removePodSandbox(id string) error {
	_, err := c.call("RemovePodSandbox", pb(nil).str(1, id))
	return err
}

// listPodSandboxes returns the ids of every pod sandbox.
func (c *criClient) listPodSandboxes() ([]string, error) {
	resp, err := c.call("ListPodSandbox", nil)
	if err != nil {
		return nil, err
	}
	var ids []string
	b := resp
	for len(b) > 0 { // repeated PodSandbox items = 1; PodSandbox.id = 1
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		b = b[n:]
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		if num == 1 && typ == protowire.BytesType {
			item, _ := protowire.ConsumeBytes(b)
			if bs, _, err := fields(item); err == nil && len(bs[1]) > 0 {
				ids = append(ids, string(bs[1]))
			}
		}
		b = b[n:]
	}
	return ids, nil
}

func idField(resp []byte, method string) (string, error) {
	bs, _, err := fields(resp)
	if err != nil {
		return "", fmt.Errorf("%s response: %w", method, err)
	}
	if len(bs[1]) == 0 {
		return "", fmt.Errorf("%s: no id in the response", method)
	}
	return string(bs[1]), nil
}
