package testkit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// TokenServer issues registry bearer tokens (docker's token auth: a JWT
// signed with ES256, the signing certificate in the x5c header) to clients
// that send its user and password by basic auth. It grants the pull and
// push actions asked for on repositories, nothing else. docker-registry
// trusts its self-signed certificate through auth.token.rootcertbundle.
//
// A Registry serves it at /token on its own proxy address: clients may
// refuse a realm on another host:port when it is a loopback or private
// address (go-containerregistry 0.22 does, against SSRF), but always take
// one on the registry's host:port.
type TokenServer struct {
	Service  string
	Issuer   string
	User     string
	Password string
	CertFile string // the signing certificate, PEM
	CertDER  []byte

	key *ecdsa.PrivateKey

	mu     sync.Mutex
	issued []TokenRequest
}

// TokenRequest is one request to the token endpoint.
type TokenRequest struct {
	User    string   // basic-auth user ("" when none was sent)
	OK      bool     // credentials accepted, token issued
	Scopes  []string // scopes asked for
	Granted []string // type:name:actions granted
}

// StartTokenServer makes a signing key and its certificate (in dir) and a
// random password.
func StartTokenServer(dir string) (*TokenServer, error) {
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
		return nil, fmt.Errorf("token signing certificate: %w", err)
	}
	ts := &TokenServer{
		Service:  "berth-test-registry",
		Issuer:   "berth-test-token-issuer",
		User:     "berth-tester",
		Password: "pw-" + RandomHex(12),
		CertFile: filepath.Join(dir, "token-signer.pem"),
		CertDER:  der,
		key:      key,
	}
	if err := os.WriteFile(ts.CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, err
	}
	return ts, nil
}

// Requests returns a copy of the token requests so far.
func (ts *TokenServer) Requests() []TokenRequest {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]TokenRequest(nil), ts.issued...)
}

func (ts *TokenServer) record(tr TokenRequest) {
	ts.mu.Lock()
	ts.issued = append(ts.issued, tr)
	ts.mu.Unlock()
}

// ServeHTTP answers GET /token?service=S&scope=T:NAME:ACTIONS... (the
// docker token protocol; POST, the OAuth2 form, is not offered).
func (ts *TokenServer) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	q := req.URL.Query()
	user, pass, hasBasic := req.BasicAuth()
	tr := TokenRequest{User: user, Scopes: q["scope"]}
	if req.Method != http.MethodGet {
		ts.record(tr)
		http.Error(w, "only GET is supported", http.StatusMethodNotAllowed)
		return
	}
	if !hasBasic || user != ts.User || subtle.ConstantTimeCompare([]byte(pass), []byte(ts.Password)) != 1 {
		ts.record(tr)
		w.Header().Set("WWW-Authenticate", `Basic realm="berth test token server"`)
		http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required: wrong or missing user and password"}]}`, http.StatusUnauthorized)
		return
	}
	if s := q.Get("service"); s != "" && s != ts.Service {
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
	token, err := ts.Sign(map[string]any{
		"iss":    ts.Issuer,
		"sub":    user,
		"aud":    ts.Service, // docker/distribution 2.8 wants one string
		"exp":    now.Add(5 * time.Minute).Unix(),
		"nbf":    now.Add(-10 * time.Second).Unix(),
		"iat":    now.Unix(),
		"jti":    RandomHex(16),
		"access": accesses,
	})
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

// Sign makes a token of claims, signed by the server's key. docker/
// distribution's verifier takes the signing key from the x5c chain, which
// must verify against rootcertbundle: here the chain is the self-signed
// root itself.
func (ts *TokenServer) Sign(claims map[string]any) (string, error) {
	return SignJWT(ts.key, ts.CertDER, claims)
}

// SignJWT makes a compact JWS (ES256) of claims signed with key, certDER
// in the x5c header.
func SignJWT(key *ecdsa.PrivateKey, certDER []byte, claims map[string]any) (string, error) {
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
		return "", fmt.Errorf("token claims: %w", err)
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

// AuthFileJSON is a docker config.json holding user:password for host.
func AuthFileJSON(host, user, password string) []byte {
	data, _ := json.Marshal(map[string]any{ // strings only: cannot fail
		"auths": map[string]any{
			host: map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + password))},
		},
	})
	return data
}
