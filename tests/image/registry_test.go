package image

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
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

// ---------------------------------------------------------------------------
// docker-registry processes

// registry is one docker-registry process listening on 127.0.0.1, with a
// recording reverse proxy in front of it. Tests (and berth) talk to addr,
// the proxy; backend is the registry itself.
type registry struct {
	dir     string // config.yml, registry.log, storage/
	storage string // the filesystem driver's rootdirectory
	backend string // 127.0.0.1:PORT of docker-registry
	addr    string // 127.0.0.1:PORT of the proxy: what references name
	auth    *tokenServer

	cmd    *exec.Cmd
	exited chan struct{}
	logF   *os.File

	proxy *http.Server

	mu   sync.Mutex
	reqs []request
	// cuts maps a request path to how many body bytes its next GET gets
	// before the proxy breaks the connection (once).
	cuts map[string]int64
}

// cutNextGET makes the next GET of path stop after n body bytes, with the
// connection broken: a download that fails half-way.
func (r *registry) cutNextGET(path string, n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cuts == nil {
		r.cuts = map[string]int64{}
	}
	r.cuts[path] = n
}

func (r *registry) takeCut(req *http.Request) (int64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n, ok := r.cuts[req.URL.Path]
	if ok && req.Method == http.MethodGet {
		delete(r.cuts, req.URL.Path)
		return n, true
	}
	return 0, false
}

// cuttingWriter passes n body bytes on, then aborts the response, which
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

// request is one request the proxy forwarded.
type request struct {
	Method string
	Path   string
	Range  string // the Range header, if any
	Auth   string // the Authorization scheme ("Bearer", "Basic"), if any
	Status int
	Bytes  int64 // response body bytes sent
}

// startRegistry writes a config to dir/config.yml and starts
// docker-registry on a free 127.0.0.1 port (retrying when another process
// took the port in between), then the proxy. With auth, the registry
// accepts only tokens from that token server.
func startRegistry(dir string, auth *tokenServer) (*registry, error) {
	r := &registry{dir: dir, storage: filepath.Join(dir, "storage"), auth: auth}
	if err := os.MkdirAll(r.storage, 0o700); err != nil {
		return nil, err
	}
	// The proxy's address first: the token realm in the registry's config
	// is on it (see tokenServer).
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r.addr = l.Addr().String()
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		r.backend = fmt.Sprintf("127.0.0.1:%d", port)
		if lastErr = r.startProcess(); lastErr == nil {
			break
		}
		if !strings.Contains(lastErr.Error(), "address already in use") {
			return nil, lastErr
		}
	}
	if lastErr != nil {
		l.Close()
		return nil, lastErr
	}
	r.startProxy(l)
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

// config is the registry's config.yml. Only 127.0.0.1 is listened on: no
// debug or metrics listener is configured, http.addr is the only address.
func (r *registry) config() string {
	var b strings.Builder
	fmt.Fprintf(&b, `version: 0.1
log:
  level: info
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
`, r.storage, r.backend, randomHex(16))
	if r.auth != nil {
		fmt.Fprintf(&b, `auth:
  token:
    realm: %s
    service: %s
    issuer: %s
    rootcertbundle: %s
`, "http://"+r.addr+"/token", r.auth.service, r.auth.issuer, r.auth.certFile)
	}
	return b.String()
}

func (r *registry) startProcess() error {
	cfg := filepath.Join(r.dir, "config.yml")
	if err := os.WriteFile(cfg, []byte(r.config()), 0o600); err != nil {
		return err
	}
	logF, err := os.Create(filepath.Join(r.dir, "registry.log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(registryBinary, "serve", cfg)
	// A clean environment: docker-registry overrides its config from
	// REGISTRY_* variables, and REGISTRY_AUTH_FILE is one the tests set.
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.Dir = r.dir
	cmd.Stdout, cmd.Stderr = logF, logF
	// Its own process group (a ^C reaches the test binary, which stops
	// it), and killed when the test binary dies without stopping it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logF.Close()
		return fmt.Errorf("starting %s: %w", registryBinary, err)
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
			return fmt.Errorf("docker-registry on %s exited at start (%s): %s", r.backend, cmd.ProcessState, r.logTail())
		default:
		}
		resp, err := client.Get("http://" + r.backend + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || (r.auth != nil && resp.StatusCode == http.StatusUnauthorized) {
				return nil
			}
		}
		if time.Now().After(deadline) {
			r.stop()
			return fmt.Errorf("docker-registry on %s not ready after 15s (last: %v): %s", r.backend, err, r.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// logTail returns the end of the registry's log, for error messages.
func (r *registry) logTail() string {
	data, _ := os.ReadFile(filepath.Join(r.dir, "registry.log"))
	if len(data) > 4000 {
		data = data[len(data)-4000:]
	}
	return string(data)
}

// stop stops the proxy and the registry (SIGTERM, then SIGKILL).
func (r *registry) stop() {
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

// startProxy serves l: /token by the token server (when there is one),
// everything else forwarded to the registry and recorded.
func (r *registry) startProxy(l net.Listener) {
	target := &url.URL{Scheme: "http", Host: r.backend}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			// The registry builds upload Locations from Host: keep
			// the proxy's, so that clients come back through it.
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
				r.reqs = append(r.reqs, request{
					Method: req.Method, Path: req.URL.Path, Range: req.Header.Get("Range"),
					Auth: scheme, Status: sw.status, Bytes: sw.n,
				})
				r.mu.Unlock()
			}()
			switch n, cut := r.takeCut(req); {
			case r.auth != nil && req.URL.Path == "/token":
				r.auth.serveToken(sw, req)
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

// requests returns a copy of every request the proxy forwarded so far.
func (r *registry) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.reqs...)
}

var blobPathRE = regexp.MustCompile(`^/v2/(.+)/blobs/(sha256:[0-9a-f]{64})$`)

// blobGETs counts the GET requests for each blob of repository repo
// (digest -> count), whatever their status. HEADs are not counted: they
// download nothing.
func (r *registry) blobGETs(repo string) map[string]int {
	counts := map[string]int{}
	for _, q := range r.requests() {
		m := blobPathRE.FindStringSubmatch(q.Path)
		if q.Method == http.MethodGet && m != nil && m[1] == repo {
			counts[m[2]]++
		}
	}
	return counts
}

// requestsFor returns the requests below /v2/<repo>/.
func (r *registry) requestsFor(repo string) []request {
	var out []request
	for _, q := range r.requests() {
		if strings.HasPrefix(q.Path, "/v2/"+repo+"/") {
			out = append(out, q)
		}
	}
	return out
}

// blobDataPath is where the filesystem driver keeps a blob's bytes.
func (r *registry) blobDataPath(digest string) string {
	hexPart := strings.TrimPrefix(digest, "sha256:")
	return filepath.Join(r.storage, "docker", "registry", "v2", "blobs", "sha256", hexPart[:2], hexPart, "data")
}

// corruptBlob overwrites bytes in the middle of a stored blob, keeping its
// size, so that the registry serves bytes that do not match the digest.
func (r *registry) corruptBlob(digest string) error {
	p := r.blobDataPath(digest)
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

// listenAddrs returns the local addresses of the TCP sockets in LISTEN
// state that process pid holds (from /proc/PID/fd and /proc/net/tcp{,6}).
func listenAddrs(pid int) ([]string, error) {
	inodes := map[string]bool{}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return nil, err
	}
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	var addrs []string
	for _, file := range []string{"tcp", "tcp6"} {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, file))
		if err != nil {
			continue
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

// ---------------------------------------------------------------------------
// The token server

// tokenServer issues registry bearer tokens (docker's token auth: a JWT
// signed with ES256, the signing certificate in the x5c header) to clients
// that send the right user and password by basic auth. It grants the pull
// and push actions asked for on repositories, nothing else. docker-registry
// trusts its self-signed certificate through auth.token.rootcertbundle.
//
// It is served at /token on the registry's own proxy address: clients may
// refuse a realm on another host:port when it is a loopback or private
// address (go-containerregistry 0.22 does, against SSRF), but always take
// one on the registry's host:port.
type tokenServer struct {
	service  string
	issuer   string
	user     string
	password string
	certFile string

	key     *ecdsa.PrivateKey
	certDER []byte

	mu     sync.Mutex
	issued []tokenRequest
}

// tokenRequest is one request to the token endpoint.
type tokenRequest struct {
	User    string   // basic-auth user ("" when none was sent)
	OK      bool     // credentials accepted, token issued
	Scopes  []string // scopes asked for
	Granted []string // type:name:actions granted
}

func startTokenServer(dir string) (*tokenServer, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(now.UnixNano()),
		Subject:               pkix.Name{CommonName: "berth image tests token signer"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(48 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	ts := &tokenServer{
		service:  "berth-test-registry",
		issuer:   "berth-test-token-issuer",
		user:     "berth-tester",
		password: "pw-" + randomHex(12),
		certFile: filepath.Join(dir, "token-signer.pem"),
		key:      key,
		certDER:  der,
	}
	if err := os.WriteFile(ts.certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, err
	}
	return ts, nil
}

// requests returns a copy of the token requests so far.
func (ts *tokenServer) requests() []tokenRequest {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]tokenRequest(nil), ts.issued...)
}

func (ts *tokenServer) record(tr tokenRequest) {
	ts.mu.Lock()
	ts.issued = append(ts.issued, tr)
	ts.mu.Unlock()
}

// serveToken answers GET /token?service=S&scope=T:NAME:ACTIONS... (the
// docker token protocol; POST, the OAuth2 form, is not offered).
func (ts *tokenServer) serveToken(w http.ResponseWriter, req *http.Request) {
	q := req.URL.Query()
	user, pass, hasBasic := req.BasicAuth()
	tr := tokenRequest{User: user, Scopes: q["scope"]}
	if req.Method != http.MethodGet {
		ts.record(tr)
		http.Error(w, "only GET is supported", http.StatusMethodNotAllowed)
		return
	}
	if !hasBasic || user != ts.user || subtle.ConstantTimeCompare([]byte(pass), []byte(ts.password)) != 1 {
		ts.record(tr)
		w.Header().Set("WWW-Authenticate", `Basic realm="berth test token server"`)
		http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required: wrong or missing user and password"}]}`, http.StatusUnauthorized)
		return
	}
	if s := q.Get("service"); s != "" && s != ts.service {
		ts.record(tr)
		http.Error(w, fmt.Sprintf("unknown service %q", s), http.StatusBadRequest)
		return
	}
	type access struct {
		Type    string   `json:"type"`
		Name    string   `json:"name"`
		Actions []string `json:"actions"`
	}
	accesses := []access{}
	for _, scope := range q["scope"] {
		// Several space-separated scopes may share one parameter.
		for _, s := range strings.Fields(scope) {
			typ, rest, ok1 := strings.Cut(s, ":")
			i := strings.LastIndex(rest, ":")
			if !ok1 || i < 0 || typ != "repository" {
				continue
			}
			name, actions := rest[:i], rest[i+1:]
			var granted []string
			for _, a := range strings.Split(actions, ",") {
				if a == "pull" || a == "push" {
					granted = append(granted, a)
				}
			}
			if len(granted) > 0 {
				accesses = append(accesses, access{Type: typ, Name: name, Actions: granted})
				tr.Granted = append(tr.Granted, typ+":"+name+":"+strings.Join(granted, ","))
			}
		}
	}
	now := time.Now()
	claims := map[string]any{
		"iss":    ts.issuer,
		"sub":    user,
		"aud":    ts.service, // docker/distribution 2.8 wants one string
		"exp":    now.Add(5 * time.Minute).Unix(),
		"nbf":    now.Add(-10 * time.Second).Unix(),
		"iat":    now.Unix(),
		"jti":    randomHex(16),
		"access": accesses,
	}
	token, err := ts.sign(claims)
	if err != nil {
		ts.record(tr)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	tr.OK = true
	ts.record(tr)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"token":        token,
		"access_token": token,
		"expires_in":   300,
		"issued_at":    now.UTC().Format(time.RFC3339),
	})
}

// sign makes a compact JWS (ES256) of claims. docker/distribution's
// verifier takes the signing key from the x5c chain, which must verify
// against rootcertbundle: here the chain is the self-signed root itself.
func (ts *tokenServer) sign(claims map[string]any) (string, error) {
	return signJWT(ts.key, ts.certDER, claims)
}

// signJWT signs claims with key (ES256), certDER in the x5c header.
func signJWT(key *ecdsa.PrivateKey, certDER []byte, claims map[string]any) (string, error) {
	header := map[string]any{
		"typ": "JWT",
		"alg": "ES256",
		"x5c": []string{base64.StdEncoding.EncodeToString(certDER)},
	}
	h, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	signingInput := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	sum := sha256.Sum256([]byte(signingInput))
	rInt, sInt, err := ecdsa.Sign(rand.Reader, key, sum[:])
	if err != nil {
		return "", err
	}
	// JWS ES256: r and s, 32 bytes each, big-endian.
	sig := make([]byte, 64)
	rInt.FillBytes(sig[:32])
	sInt.FillBytes(sig[32:])
	return signingInput + "." + enc.EncodeToString(sig), nil
}

// ---------------------------------------------------------------------------
// Auth files

// authFileJSON is a docker config.json holding user:password for host.
func authFileJSON(host, user, password string) []byte {
	data, _ := json.Marshal(map[string]any{
		"auths": map[string]any{
			host: map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + password))},
		},
	})
	return data
}

// writeAuthFile writes an auth file for the token-auth registry with the
// given password (the right one: tokenSrv.password) to dir/name and
// returns its path.
func writeAuthFile(dir, name, password string) (string, error) {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, authFileJSON(authReg.addr, tokenSrv.user, password), 0o600); err != nil {
		return "", err
	}
	return p, nil
}

// ---------------------------------------------------------------------------

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
