// Package unpack applies image layers to a directory: in order, with the
// OCI whiteouts (.wh.NAME removes NAME, .wh..wh..opq empties a directory
// of what earlier layers put there), without ever writing outside the
// directory, and checking each layer's uncompressed digest against the
// image config's diff_ids.
package unpack

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"github.com/berth-oci/berth/image/oci"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// Decompress returns the uncompressed tar stream of a layer. The
// compression is taken from the media type (+gzip, +zstd, plain tar) and,
// for media types that do not say (Docker's, or unknown ones), from the
// stream's first bytes.
func Decompress(mediaType string, r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReader(r)
	kind := ""
	switch {
	case strings.HasSuffix(mediaType, "+gzip") || strings.HasSuffix(mediaType, ".tar.gzip"):
		kind = "gzip"
	case strings.HasSuffix(mediaType, "+zstd"):
		kind = "zstd"
	case strings.HasSuffix(mediaType, ".tar"):
		kind = "tar"
	default:
		head, _ := br.Peek(4)
		switch {
		case bytes.HasPrefix(head, gzipMagic):
			kind = "gzip"
		case bytes.HasPrefix(head, zstdMagic):
			kind = "zstd"
		default:
			kind = "tar"
		}
	}
	switch kind {
	case "gzip":
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip layer: %w", err)
		}
		return zr, nil
	case "zstd":
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("zstd layer: %w", err)
		}
		return zr.IOReadCloser(), nil
	}
	return io.NopCloser(br), nil
}

// DiffID reads a compressed layer to its end and returns the digest of its
// uncompressed content.
func DiffID(mediaType string, r io.Reader) (oci.Digest, error) {
	zr, err := Decompress(mediaType, r)
	if err != nil {
		return "", err
	}
	defer zr.Close()
	h := sha256.New()
	if _, err := io.Copy(h, zr); err != nil {
		return "", fmt.Errorf("decompress layer: %w", err)
	}
	return oci.NewDigestFromEncoded(oci.SHA256, hex.EncodeToString(h.Sum(nil))), nil
}
