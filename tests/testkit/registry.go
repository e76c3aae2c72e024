package testkit

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// RegistryBinary is Debian's docker-registry (docker/distribution).
const RegistryBinary = "/usr/bin/docker-registry"

// RegistryOptions say how to run a Registry.
type RegistryOptions struct {
	// Proxy puts a reverse proxy of the test binary in front of the
	// registry, which records every request (see Requests) and can
	// break a download (see CutNextGET). A benchmark goes without.
	Proxy bool
	// Auth makes the registry accept only tokens of this token server,
	// served at /token on the proxy's address (Auth needs Proxy).
	Auth *TokenServer
	// LogLevel of the registry's log, dir/registry.log ("": info).
	LogLevel string
}

// Registry is a docker-registry process listening on 127.0.0.1 only, its
// configuration, log and storage in a directory of its own.
type Registry struct {
	Dir     string
	Storage string       // the filesystem driver's rootdirectory
	Backend string       // 127.0.0.1:PORT of docker-registry
	Addr    string       // what references name: the proxy's address, or Backend without one
	Auth    *TokenServer // nil: no auth

	logLevel string
	cmd      *exec.Cmd
	exited   chan struct{}
	logF     *os.File
	proxy    *http.Server

	mu   sync.Mutex
	reqs []Request
	// cuts maps a request path to how many body bytes its next GET gets
	// before the proxy breaks the connection (once).
	cuts map[string]int64
}

// Request is one request the proxy forwarded.
type Request struct {
	Method string
	Path   string
	Range  string // the Range header, if any
	Auth   string // the Authorization scheme ("Bearer", "Basic"), if any
	Status int
	Bytes  int64 // response body bytes sent
}

// StartRegistry writes a configuration to dir/config.yml and starts
// docker-registry on a free port of 127.0.0.1 (another one when some other
// process took it in between), waits until it answers, and refuses to go
// on if it listens anywhere else.
func StartRegistry(dir string, o RegistryOptions) (*Registry, error) {
	if o.Auth != nil && !o.Proxy {
		return nil, fmt.Errorf("registry in %s: token auth needs the proxy, which serves the tokens", dir)
	}
	r := &Registry{Dir: dir, Storage: filepath.Join(dir, "storage"), Auth: o.Auth, logLevel: o.LogLevel}
	if r.logLevel == "" {
		r.logLevel = "info"
	}
	if err := os.MkdirAll(r.Storage, 0o700); err != nil {
		return nil, err
	}
	// The proxy's address first: the token realm in the registry's
	// configuration is on it.
	var l net.Listener
	if o.Proxy {
		var err error
		if l, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return nil, err
		}
		r.Addr = l.Addr().String()
	}
	var err error
	for range 5 {
		port, perr := freePort()
		if perr != nil {
			err = perr
			break
		}
		r.Backend = fmt.Sprintf("127.0.0.1:%d", port)
		if err = r.startProcess(); err == nil || !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	if err == nil {
		err = r.checkListeners()
	}
	if err != nil {
		if l != nil {
			l.Close()
		}
		r.Stop()
		return nil, err
	}
	if l != nil {
		r.startProxy(l)
	} else {
		r.Addr = r.Backend
	}
	return r, nil
}

// freePort returns a TCP port that was free on 127.0.0.1 a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// config is the registry's config.yml. http.addr is its only listener: no
// debug or metrics address is configured.
func (r *Registry) config() string {
	var b strings.Builder
	fmt.Fprintf(&b, `version: 0.1
log:
  level: %s
  formatter: text
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
    readonly:
      enabled: false
http:
  addr: %s
  secret: %s
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: false
`, r.logLevel, r.Storage, r.Backend, RandomHex(16))
	if r.Auth != nil {
		fmt.Fprintf(&b, `auth:
  token:
    realm: %s
    service: %s
    issuer: %s
    rootcertbundle: %s
`, "http://"+r.Addr+"/token", r.Auth.Service, r.Auth.Issuer, r.Auth.CertFile)
	}
	return b.String()
}

func (r *Registry) startProcess() error {
	cfg := filepath.Join(r.Dir, "config.yml")
	if err := os.WriteFile(cfg, []byte(r.config()), 0o600); err != nil {
		return err
	}
	logF, err := os.Create(filepath.Join(r.Dir, "registry.log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(RegistryBinary, "serve", cfg)
	// A clean environment: docker-registry overrides its configuration
	// from REGISTRY_* variables, and REGISTRY_AUTH_FILE is one tests set.
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.Dir = r.Dir
	cmd.Stdout, cmd.Stderr = logF, logF
	// Its own process group (a ^C reaches the test binary, which stops
	// it), and killed when the test binary dies without stopping it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logF.Close()
		return fmt.Errorf("starting %s: %w", RegistryBinary, err)
	}
	r.cmd, r.logF, r.exited = cmd, logF, make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(r.exited)
	}()

	// Ready when /v2/ answers (200 open, 401 with auth).
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-r.exited:
			logF.Close()
			r.cmd = nil
			return fmt.Errorf("docker-registry on %s exited at start (%s): %s", r.Backend, cmd.ProcessState, r.logTail())
		default:
		}
		resp, err := client.Get("http://" + r.Backend + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || (r.Auth != nil && resp.StatusCode == http.StatusUnauthorized) {
				return nil
			}
		}
		if time.Now().After(deadline) {
			r.Stop()
			return fmt.Errorf("docker-registry on %s not ready after 15s (last: %v): %s", r.Backend, err, r.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkListeners fails if docker-registry listens on anything but its
// configured 127.0.0.1 address.
func (r *Registry) checkListeners() error {
	addrs, err := ListenAddrs(r.Pid())
	if err != nil {
		return fmt.Errorf("the listening sockets of docker-registry: %w", err)
	}
	for _, a := range addrs {
		if a != r.Backend {
			return fmt.Errorf("docker-registry listens on %s besides %s; refusing to go on", a, r.Backend)
		}
	}
	return nil
}

// Pid is the docker-registry process's id (0 once stopped).
func (r *Registry) Pid() int {
	if r.cmd == nil {
		return 0
	}
	return r.cmd.Process.Pid
}

// logTail is the end of the registry's log, for error messages.
func (r *Registry) logTail() string {
	data, _ := os.ReadFile(filepath.Join(r.Dir, "registry.log"))
	if len(data) > 4000 {
		data = data[len(data)-4000:]
	}
	return string(data)
}

// Stop stops the proxy and the registry (SIGTERM, then SIGKILL to its
// group after 5 s).
func (r *Registry) Stop() {
	if r.proxy != nil {
		_ = r.proxy.Close()
		r.proxy = nil
	}
	if r.cmd == nil {
		return
	}
	_ = syscall.Kill(r.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		<-r.exited
	}
	r.cmd = nil
	r.logF.Close()
}

// ---------------------------------------------------------------------------
// The recording proxy

// statusWriter records the status and body size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// cuttingWriter passes left body bytes on, then aborts the response, which
// makes the server drop the connection.
type cuttingWriter struct {
	*statusWriter
	left int64
}

func (w *cuttingWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > w.left {
		if w.left > 0 {
			_, _ = w.statusWriter.Write(p[:w.left])
			w.statusWriter.Flush()
		}
		panic(http.ErrAbortHandler)
	}
	w.left -= int64(len(p))
	return w.statusWriter.Write(p)
}

// startProxy serves l: /token by the token server (when there is one),
// everything else forwarded to the registry and recorded.
func (r *Registry) startProxy(l net.Listener) {
	target := &url.URL{Scheme: "http", Host: r.Backend}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			// The registry builds upload Locations from Host: keep the
			// proxy's, so that clients come back through it.
			pr.Out.Host = pr.In.Host
		},
		FlushInterval: -1,
	}
	r.proxy = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			sw := &statusWriter{ResponseWriter: w}
			defer func() {
				// Recorded even when the response was cut (a panic).
				scheme, _, _ := strings.Cut(req.Header.Get("Authorization"), " ")
				r.mu.Lock()
				r.reqs = append(r.reqs, Request{
					Method: req.Method, Path: req.URL.Path, Range: req.Header.Get("Range"),
					Auth: scheme, Status: sw.status, Bytes: sw.n,
				})
				r.mu.Unlock()
			}()
			switch n, cut := r.takeCut(req); {
			case r.Auth != nil && req.URL.Path == "/token":
				r.Auth.ServeHTTP(sw, req)
			case cut:
				rp.ServeHTTP(&cuttingWriter{statusWriter: sw, left: n}, req)
			default:
				rp.ServeHTTP(sw, req)
			}
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = r.proxy.Serve(l) }()
}

// CutNextGET makes the next GET of path stop after n body bytes, with the
// connection broken: a download that fails half-way.
func (r *Registry) CutNextGET(path string, n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cuts == nil {
		r.cuts = map[string]int64{}
	}
	r.cuts[path] = n
}

func (r *Registry) takeCut(req *http.Request) (int64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n, ok := r.cuts[req.URL.Path]
	if ok && req.Method == http.MethodGet {
		delete(r.cuts, req.URL.Path)
		return n, true
	}
	return 0, false
}

// Requests returns a copy of every request the proxy forwarded so far.
func (r *Registry) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.reqs...)
}

var blobPathRE = regexp.MustCompile(`^/v2/(.+)/blobs/(sha256:[0-9a-f]{64})$`)

// BlobGETs counts the GET requests for each blob of repository repo
// (digest -> count), whatever their status. HEADs are not counted: they
// download nothing.
func (r *Registry) BlobGETs(repo string) map[string]int {
	counts := map[string]int{}
	for _, q := range r.Requests() {
		m := blobPathRE.FindStringSubmatch(q.Path)
		if q.Method == http.MethodGet && m != nil && m[1] == repo {
			counts[m[2]]++
		}
	}
	return counts
}

// RequestsFor returns the requests below /v2/<repo>/.
func (r *Registry) RequestsFor(repo string) []Request {
	var out []Request
	for _, q := range r.Requests() {
		if strings.HasPrefix(q.Path, "/v2/"+repo+"/") {
			out = append(out, q)
		}
	}
	return out
}

// BlobDataPath is where the filesystem driver keeps a blob's bytes.
func (r *Registry) BlobDataPath(digest string) string {
	hexPart := strings.TrimPrefix(digest, "sha256:")
	return filepath.Join(r.Storage, "docker", "registry", "v2", "blobs", "sha256", hexPart[:2], hexPart, "data")
}

// CorruptBlob overwrites bytes in the middle of a stored blob, keeping its
// size, so that the registry serves bytes that do not match the digest.
func (r *Registry) CorruptBlob(digest string) error {
	p := r.BlobDataPath(digest)
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	n := min(int64(512), st.Size()/2)
	if n == 0 {
		return fmt.Errorf("%s: blob of %d bytes is too small to corrupt", p, st.Size())
	}
	off := st.Size() / 2
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, off); err != nil {
		return err
	}
	for i := range buf {
		buf[i] ^= 0xA5
	}
	if _, err := f.WriteAt(buf, off); err != nil {
		return err
	}
	return f.Close()
}

// ListenAddrs returns the local addresses of the TCP sockets in LISTEN
// state that process pid holds (from /proc/PID/fd and /proc/PID/net/tcp*).
func ListenAddrs(pid int) ([]string, error) {
	inodes := map[string]bool{}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return nil, err
	}
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if ino, ok := strings.CutPrefix(link, "socket:["); err == nil && ok {
			inodes[strings.TrimSuffix(ino, "]")] = true
		}
	}
	var addrs []string
	for _, file := range []string{"tcp", "tcp6"} {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, file))
		if err != nil {
			continue // no IPv6
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			f := strings.Fields(line)
			// sl local rem st tx:rx tr:tm retrnsmt uid timeout inode
			if len(f) < 10 || f[3] != "0A" || !inodes[f[9]] {
				continue
			}
			addrs = append(addrs, decodeProcAddr(f[1]))
		}
	}
	return addrs, nil
}

// decodeProcAddr turns /proc/net/tcp's "0100007F:1F90" into "127.0.0.1:8080".
func decodeProcAddr(s string) string {
	h, p, ok := strings.Cut(s, ":")
	raw, err := hex.DecodeString(h)
	if !ok || err != nil {
		return s
	}
	// The address is in host byte order, 32 bits at a time.
	for i := 0; i+4 <= len(raw); i += 4 {
		raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	var port int
	fmt.Sscanf(p, "%X", &port)
	return net.JoinHostPort(net.IP(raw).String(), fmt.Sprint(port))
}

// RandomHex is n random bytes in hex.
func RandomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}
