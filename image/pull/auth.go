package pull

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
)

// AuthFiles lists the credential files berth reads, in order, the first
// that has an entry for a registry winning: the --authfile given, then
// $REGISTRY_AUTH_FILE, podman's ($XDG_RUNTIME_DIR/containers/auth.json,
// ~/.config/containers/auth.json) and docker's ($DOCKER_CONFIG/config.json
// or ~/.docker/config.json).
func AuthFiles(explicit string) []string {
	var files []string
	if explicit != "" {
		files = append(files, explicit)
	}
	if f := os.Getenv("REGISTRY_AUTH_FILE"); f != "" {
		files = append(files, f)
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		files = append(files, filepath.Join(d, "containers", "auth.json"))
	}
	home, _ := os.UserHomeDir()
	if home != "" {
		files = append(files, filepath.Join(home, ".config", "containers", "auth.json"))
	}
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		files = append(files, filepath.Join(d, "config.json"))
	} else if home != "" {
		files = append(files, filepath.Join(home, ".docker", "config.json"))
	}
	return files
}

// fileKeychain finds credentials in docker/podman auth files ({"auths":
// {"REGISTRY": {"auth": base64(user:password)}}}). Credential helpers
// (credsStore, credHelpers) are not run.
type fileKeychain struct {
	files    []string
	explicit string // must exist and parse
}

// NewKeychain reads credentials from AuthFiles(explicit).
func NewKeychain(explicit string) authn.Keychain {
	return &fileKeychain{files: AuthFiles(explicit), explicit: explicit}
}

type authEntry struct {
	Auth          string `json:"auth"`
	Username      string `json:"username"`
	Password      string `json:"password"`
	IdentityToken string `json:"identitytoken"`
}

func (k *fileKeychain) Resolve(res authn.Resource) (authn.Authenticator, error) {
	want := normaliseRegistry(res.RegistryStr())
	for _, file := range k.files {
		data, err := os.ReadFile(file)
		if errors.Is(err, fs.ErrNotExist) && file != k.explicit {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("auth file %s: %w", file, err)
		}
		var cfg struct {
			Auths map[string]authEntry `json:"auths"`
		}
		if err := json.Unmarshal(data, &cfg); err != nil {
			return nil, fmt.Errorf("auth file %s: %w", file, err)
		}
		for key, e := range cfg.Auths {
			if normaliseRegistry(key) != want {
				continue
			}
			ac := authn.AuthConfig{Username: e.Username, Password: e.Password, IdentityToken: e.IdentityToken}
			if e.Auth != "" {
				raw, err := base64.StdEncoding.DecodeString(e.Auth)
				if err != nil {
					return nil, fmt.Errorf("auth file %s: auths[%q].auth: %w", file, key, err)
				}
				user, pass, ok := strings.Cut(string(raw), ":")
				if !ok {
					return nil, fmt.Errorf("auth file %s: auths[%q].auth: want base64 of user:password", file, key)
				}
				ac.Username, ac.Password = user, pass
			}
			return authn.FromConfig(ac), nil
		}
	}
	return authn.Anonymous, nil
}

// normaliseRegistry turns an auth file key ("https://index.docker.io/v1/",
// "docker.io", "127.0.0.1:5000") into the registry host it stands for.
func normaliseRegistry(key string) string {
	key = strings.TrimPrefix(strings.TrimPrefix(key, "https://"), "http://")
	key, _, _ = strings.Cut(key, "/")
	switch key {
	case "docker.io", "registry-1.docker.io", "index.docker.io":
		return "index.docker.io"
	}
	return key
}
