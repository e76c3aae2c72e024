package image

import (
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/berth-oci/berth/tests/testkit"
)

// authFailure is what a message about missing or wrong credentials says.
var authFailure = regexp.MustCompile(`(?i)unauthori[sz]ed|authenticat|authoriz|credential|denied|401`)

func TestPullPrintsDigestAndImagesListsIt(t *testing.T) {
	e := newEnv(t)
	p := pushBusybox(t)
	e.pull(p.Ref, p.Digest)

	list := e.images()
	im, ok := findImage(list, p.Ref)
	if !ok {
		t.Fatalf("images does not list %s: %+v", p.Ref, list)
	}
	if im.Digest != p.Digest {
		t.Errorf("images: %s has digest %s, want %s", p.Ref, im.Digest, p.Digest)
	}
	if im.Size <= 0 {
		t.Errorf("images: %s has size %d", p.Ref, im.Size)
	}
	if len(list) != 1 {
		t.Errorf("images lists %d entries after one pull: %+v", len(list), list)
	}
	// The table names it too.
	if r := e.mustBerth("images"); !strings.Contains(r.Stdout, p.Repo) {
		t.Errorf("images (table) does not mention %s:\n%s", p.Repo, r)
	}
	// Every blob of the image is in the store.
	for _, b := range append([]string{p.Config}, p.Layers...) {
		if len(pathsNaming(e.store, b)) == 0 {
			t.Errorf("blob %s is not in the store %s after the pull", b, e.store)
		}
	}
}

func TestPullQuiet(t *testing.T) {
	e := newEnv(t)
	p := pushBusybox(t)
	r := e.mustBerth("pull", "-q", p.Ref)
	if got := strings.TrimSpace(r.Stdout); got != p.Digest {
		t.Errorf("pull -q printed %q, want only the digest %s", got, p.Digest)
	}
}

func TestPullWithoutTagIsLatest(t *testing.T) {
	e := newEnv(t)
	p := pushBusybox(t) // tag "latest"
	untagged := strings.TrimSuffix(p.Ref, ":latest")
	e.pull(untagged, p.Digest)
	if _, ok := findImage(e.images(), p.Ref); !ok {
		t.Errorf("pulled %s, images does not list it as %s: %+v", untagged, p.Ref, e.images())
	}
}

func TestPullByDigest(t *testing.T) {
	e := newEnv(t)
	p := pushBusybox(t)
	byDigest := openReg.Addr + "/" + p.Repo + "@" + p.Digest
	e.pull(byDigest, p.Digest)
	list := e.images()
	found := false
	for _, im := range list {
		found = found || im.Digest == p.Digest
	}
	if !found {
		t.Errorf("images lists no image with digest %s after pulling %s: %+v", p.Digest, byDigest, list)
	}
	// A digest the repository does not have.
	wrong := openReg.Addr + "/" + p.Repo + "@sha256:" + strings.Repeat("0", 64)
	e.mustFail("pull", wrong)
}

func TestPullMissingTag(t *testing.T) {
	e := newEnv(t)
	p := pushBusybox(t)
	missing := openReg.Addr + "/" + p.Repo + ":no-such-tag"
	r := e.mustFail("pull", missing)
	if !regexp.MustCompile(`(?i)not found|unknown|no such|does not exist|no-such-tag`).MatchString(r.Output()) {
		t.Errorf("pull of a missing tag does not say what is missing:\n%s", r)
	}
	if list := e.images(); len(list) != 0 {
		t.Errorf("images after a failed pull: %+v", list)
	}
}

func TestPullImageStoreEnv(t *testing.T) {
	e := newEnv(t)
	p := pushBusybox(t)
	store := e.path("env-store")
	r := e.berthWith(opts{noStore: true, env: []string{"BERTH_IMAGE_STORE=" + store}}, "pull", p.Ref)
	if r.Code != 0 || r.LastLine() != p.Digest {
		t.Fatalf("pull with BERTH_IMAGE_STORE: %s", r)
	}
	if len(pathsNaming(store, p.Layers[0])) == 0 {
		t.Errorf("layer %s is not in BERTH_IMAGE_STORE=%s", p.Layers[0], store)
	}
	// The flag's store (e.store) was not used.
	if got := pathsNaming(e.store, p.Layers[0]); len(got) != 0 {
		t.Errorf("layer written to %s although BERTH_IMAGE_STORE=%s: %v", e.store, store, got)
	}
	r = e.berthWith(opts{noStore: true}, "--image-store", store, "images", "--format", "json")
	if r.Code != 0 || !strings.Contains(r.Stdout, p.Digest) {
		t.Errorf("images --image-store %s does not list %s: %s", store, p.Digest, r)
	}
}

func TestPullTwiceDownloadsNothing(t *testing.T) {
	e := newEnv(t)
	p := pushBusybox(t)
	first := e.pull(p.Ref, p.Digest)
	before := openReg.BlobGETs(p.Repo)
	for _, b := range []string{p.Config, p.Layers[0]} {
		if before[b] == 0 {
			t.Fatalf("the first pull fetched no %s through the registry proxy (blob GETs: %v)", b, before)
		}
	}
	second := e.pull(p.Ref, p.Digest)
	after := openReg.BlobGETs(p.Repo)
	for b, n := range after {
		if n != before[b] {
			t.Errorf("second pull fetched blob %s again (%d GETs, %d after the first pull)", b, n, before[b])
		}
	}
	t.Logf("first pull %v, second %v", first.Dur, second.Dur)
	if list := e.images(); len(list) != 1 {
		t.Errorf("images after pulling one image twice: %+v", list)
	}
}

// concurrently runs berth once per args, all started together, and
// returns the results in order.
func (e *env) concurrently(args ...[]string) []result {
	results := make([]result, len(args))
	testkit.Together(len(args), func(i int) { results[i] = e.berth(args[i]...) })
	return results
}

func TestPullConcurrent(t *testing.T) {
	e := newEnv(t)
	const n = 4

	// n pulls of one image into one fresh store: all succeed, every blob
	// is fetched once, the tag is there once.
	p := pushLayered(t) // three layers: more chances to race
	args := make([][]string, n)
	for i := range args {
		args[i] = []string{"pull", p.Ref}
	}
	for i, r := range e.concurrently(args...) {
		if r.Code != 0 || r.Err != nil {
			t.Errorf("pull %d of %d of the same image: %s", i, n, r)
		} else if r.LastLine() != p.Digest {
			t.Errorf("pull %d printed %q, want %s", i, r.LastLine(), p.Digest)
		}
	}
	gets := openReg.BlobGETs(p.Repo)
	for _, b := range append([]string{p.Config}, p.Layers...) {
		if gets[b] != 1 {
			t.Errorf("blob %s fetched %d times by %d concurrent pulls into one store, want once", b, gets[b], n)
		}
	}
	list := e.images()
	count := 0
	for _, im := range list {
		if im.Name == p.Ref {
			count++
			if im.Digest != p.Digest {
				t.Errorf("images: %s at %s, want %s", im.Name, im.Digest, p.Digest)
			}
		}
	}
	if count != 1 {
		t.Errorf("images lists %s %d times after concurrent pulls: %+v", p.Ref, count, list)
	}

	// n pulls of n different tags at once: no tag is lost.
	others := make([]pushedImage, n)
	for i := range others {
		img := busyboxImage()
		if i%2 == 1 {
			img = markedBusyboxImage("tag-" + testkit.RandomHex(4))
		}
		others[i] = pushImage(t, openReg, uniqueRepo(t, "tags"), "t"+strconv.Itoa(i), img)
		args[i] = []string{"pull", others[i].Ref}
	}
	for i, r := range e.concurrently(args...) {
		if r.Code != 0 || r.Err != nil || r.LastLine() != others[i].Digest {
			t.Errorf("pull %d of %d different images: %s", i, n, r)
		}
	}
	list = e.images()
	for _, o := range append(others, p) {
		if im, ok := findImage(list, o.Ref); !ok || im.Digest != o.Digest {
			t.Errorf("after concurrent pulls of different tags, images lacks %s at %s: %+v", o.Ref, o.Digest, list)
		}
	}
}

func TestPullCorruptBlob(t *testing.T) {
	e := newEnv(t)
	p := pushCorrupt(t)
	bad := p.Layers[0]
	r := e.mustFail("pull", p.Ref)
	if !strings.Contains(r.Output(), bad) && !strings.Contains(r.Output(), strings.TrimPrefix(bad, "sha256:")) {
		t.Errorf("pull of an image whose layer does not match its digest does not name %s:\n%s", bad, r)
	}
	if _, ok := findImage(e.images(), p.Ref); ok {
		t.Errorf("images lists %s after its pull failed", p.Ref)
	}
	// Neither the blob nor a partial download of it is kept; nor the lock
	// the pull took on it (a successful pull leaves none either).
	var locks, kept []string
	for _, p := range pathsNaming(e.store, bad) {
		if strings.HasSuffix(p, ".lock") {
			locks = append(locks, p)
		} else {
			kept = append(kept, p)
		}
	}
	if len(kept) != 0 {
		t.Errorf("the corrupt blob %s is kept in the store: %v", bad, kept)
	}
	if len(locks) != 0 {
		t.Errorf("the failed pull left its lock on %s in the store: %v", bad, locks)
	}
}

func TestPullBadDiffID(t *testing.T) {
	e := newEnv(t)
	p, badDiffID := pushBadDiffID(t)
	r := e.mustFail("pull", p.Ref)
	out := r.Output()
	if !strings.Contains(out, p.Layers[0]) && !strings.Contains(out, badDiffID) {
		t.Errorf("pull of an image whose config has a wrong diff_id names neither the layer %s nor the diff_id %s:\n%s",
			p.Layers[0], badDiffID, r)
	}
	if _, ok := findImage(e.images(), p.Ref); ok {
		t.Errorf("images lists %s after its pull failed", p.Ref)
	}
}

func TestPullPlatformIndex(t *testing.T) {
	e := newEnv(t)
	p := pushPlatformIndex(t)
	host := hostPlatform.os + "/" + hostPlatform.arch
	other := otherPlatform()
	otherKey := other.os + "/" + other.arch

	r := e.mustBerth("pull", p.Ref)
	got := r.LastLine()
	if got == p.Platforms[otherKey] {
		t.Fatalf("pull on %s took the index's first entry, %s (%s)", host, otherKey, got)
	}
	if got != p.Digest && got != p.Platforms[host] {
		t.Errorf("pull printed %q, want the index digest %s or the %s manifest's %s", got, p.Digest, host, p.Platforms[host])
	}
	// What is stored is the host's image: its layer is there, the other's not.
	if len(pathsNaming(e.store, p.PlatformImages[host].Layers[0])) == 0 {
		t.Errorf("the %s layer is not in the store", host)
	}
	if got := pathsNaming(e.store, p.PlatformImages[otherKey].Layers[0]); len(got) != 0 {
		t.Errorf("the %s layer was fetched on %s: %v", otherKey, host, got)
	}

	dir := e.path("bundle-host")
	e.mustBerth("bundle", p.Ref, dir)
	if m := strings.TrimSpace(readFile(t, filepath.Join(dir, "rootfs", "platform"))); m != host {
		t.Errorf("bundle of the index on %s has /platform %q", host, m)
	}

	dir = e.path("bundle-other")
	e.mustBerth("bundle", "--platform", other.String(), p.Ref, dir)
	if m := strings.TrimSpace(readFile(t, filepath.Join(dir, "rootfs", "platform"))); m != otherKey {
		t.Errorf("bundle --platform %s has /platform %q", other, m)
	}

	for _, args := range [][]string{
		{"pull", "--platform", "linux/s390x", p.Ref},
		{"bundle", "--platform", "linux/s390x", p.Ref, e.path("bundle-s390x")},
	} {
		r := e.mustFail(args...)
		if !strings.Contains(r.Output(), "linux/s390x") {
			t.Errorf("%s for a platform the index lacks does not name linux/s390x:\n%s", args[0], r)
		}
	}
	if entries := readDirNames(filepath.Join(e.path("bundle-s390x"), "rootfs")); len(entries) != 0 {
		t.Errorf("failed bundle unpacked %v", entries)
	}
}

func TestPullTokenAuth(t *testing.T) {
	e := newEnv(t)
	p := pushAuthBusybox(t)

	r := e.mustFail("pull", p.Ref)
	if !authFailure.MatchString(r.Output()) {
		t.Errorf("pull from the token-auth registry without credentials: no word of auth in:\n%s", r)
	}

	wrong, err := writeAuthFile(e.Dir, "wrong.json", "not-the-password")
	if err != nil {
		t.Fatal(err)
	}
	r = e.mustFail("pull", "--authfile", wrong, p.Ref)
	if !authFailure.MatchString(r.Output()) {
		t.Errorf("pull with a wrong password: no word of auth in:\n%s", r)
	}
	if _, ok := findImage(e.images(), p.Ref); ok {
		t.Fatalf("images lists %s after failed pulls", p.Ref)
	}

	right, err := writeAuthFile(e.Dir, "auth.json", tokenSrv.Password)
	if err != nil {
		t.Fatal(err)
	}
	e.pull(p.Ref, p.Digest, "--authfile", right)
	if _, ok := findImage(e.images(), p.Ref); !ok {
		t.Errorf("images does not list %s after the authenticated pull", p.Ref)
	}

	// REGISTRY_AUTH_FILE, into a second store.
	store2 := e.path("store2")
	r = e.berthWith(opts{noStore: true, env: []string{"REGISTRY_AUTH_FILE=" + right}}, "--image-store", store2, "pull", p.Ref)
	if r.Code != 0 || r.LastLine() != p.Digest {
		t.Errorf("pull with REGISTRY_AUTH_FILE: %s", r)
	}
	// bundle pulls with the same credentials.
	store3, dir := e.path("store3"), e.path("bundle")
	r = e.berthWith(opts{noStore: true, env: []string{"REGISTRY_AUTH_FILE=" + right}}, "--image-store", store3, "bundle", p.Ref, dir)
	if r.Code != 0 {
		t.Errorf("bundle with REGISTRY_AUTH_FILE: %s", r)
	} else if readFile(t, filepath.Join(dir, "rootfs", "etc", "passwd")) == "" {
		t.Error("bundle from the token-auth registry has an empty /etc/passwd")
	}

	// The pulls went through the token server with the user's credentials.
	granted := false
	for _, tr := range tokenSrv.Requests() {
		if tr.OK && tr.User == tokenSrv.User && slices.Contains(tr.Granted, "repository:"+p.Repo+":pull") {
			granted = true
		}
	}
	if !granted {
		t.Errorf("the token server granted no pull of %s", p.Repo)
	}
}

func TestPullOCILayout(t *testing.T) {
	e := newEnv(t)
	p := writeOCILayout(t, e.path("layout"), "v1")
	e.pull(p.Ref, p.Digest)
	if len(pathsNaming(e.store, p.Layers[0])) == 0 {
		t.Errorf("layer %s is not in the store after pulling %s", p.Layers[0], p.Ref)
	}
	dir := e.path("bundle")
	e.mustBerth("bundle", p.Ref, dir)
	if _, err := readDirNamesErr(filepath.Join(dir, "rootfs", "bin")); err != nil {
		t.Errorf("bundle of %s: %v", p.Ref, err)
	}
	// A tag the layout does not have.
	e.mustFail("pull", "oci:"+e.path("layout")+":v2")
}

func TestPullOCIArchive(t *testing.T) {
	e := newEnv(t)
	p := writeOCIArchive(t, e.path("busybox.tar"), "v1")
	e.pull(p.Ref, p.Digest)
	dir := e.path("bundle")
	e.mustBerth("bundle", p.Ref, dir)
	if got := readFile(t, filepath.Join(dir, "rootfs", "etc", "group")); got != baseGroup {
		t.Errorf("bundle of %s: /etc/group %q", p.Ref, got)
	}
}
