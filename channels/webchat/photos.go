package webchat

import (
	"bytes"
	"encoding/hex"
	"errors"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"

	"github.com/cityline/cityline/dialog"
)

// Photo types accepted, by what their bytes are, never by their name or
// the type the browser claims.
var photoTypes = map[string]string{"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}

var photoNameRE = regexp.MustCompile(`^[0-9a-f]{32}\.(jpg|png|webp)$`)

// Largest picture accepted, in pixels: more is a decompression bomb, not a
// photo of a pothole.
const maxPixels = 50_000_000

// uploaded is the answer to a photo upload.
type uploaded struct {
	Photo string `json:"photo"` // the reference to send as {"photo": ...}
	URL   string `json:"url"`
	Type  string `json:"type"`
	Bytes int    `json:"bytes"`
}

// upload takes one photo (multipart form field "photo"), checks its size
// and what it really is, and keeps it under the photo folder.
func (h *Handler) upload(w http.ResponseWriter, r *http.Request) {
	c, ok := h.conversation(w, r)
	if !ok {
		return
	}
	if h.photoDir == "" {
		writeError(w, http.StatusNotFound, "photos_off")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, h.maxPhoto+64<<10)
	mr, err := r.MultipartReader()
	if err != nil {
		writeError(w, http.StatusBadRequest, "want_multipart")
		return
	}
	var data []byte
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			status, code := uploadStatus(err)
			writeError(w, status, code)
			return
		}
		if part.FormName() != "photo" || data != nil {
			part.Close()
			continue
		}
		data, err = io.ReadAll(io.LimitReader(part, h.maxPhoto+1))
		part.Close()
		if err != nil {
			status, code := uploadStatus(err)
			writeError(w, status, code)
			return
		}
		if int64(len(data)) > h.maxPhoto {
			writeError(w, http.StatusRequestEntityTooLarge, "photo_too_large")
			return
		}
	}
	if len(data) == 0 {
		writeError(w, http.StatusBadRequest, "no_photo")
		return
	}
	kind, ext, ok := checkPhoto(data)
	if !ok {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_photo_type")
		return
	}
	name := hex.EncodeToString(randomBytes(16)) + ext
	if err := h.savePhoto(name, data); err != nil {
		h.log.Error("save photo", "err", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable")
		return
	}
	if err := h.store.AddPhoto(r.Context(), c.ID, name); err != nil {
		os.Remove(filepath.Join(h.photoDir, name))
		if errors.Is(err, ErrLimit) {
			writeError(w, http.StatusTooManyRequests, "too_many_photos")
			return
		}
		h.log.Error("add photo", "conversation", dialog.RedactID(c.ID), "err", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable")
		return
	}
	writeJSON(w, http.StatusCreated, uploaded{Photo: name, URL: h.photoURL(r, name), Type: kind, Bytes: len(data)})
}

func uploadStatus(err error) (int, string) {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return http.StatusRequestEntityTooLarge, "photo_too_large"
	}
	return http.StatusBadRequest, "bad_upload"
}

// checkPhoto sniffs what the bytes are and, for JPEG and PNG, reads the
// header to be sure it is a picture of a sensible size.
func checkPhoto(data []byte) (kind, ext string, ok bool) {
	kind = http.DetectContentType(data)
	ext, ok = photoTypes[kind]
	if !ok {
		return "", "", false
	}
	var cfg image.Config
	var err error
	switch kind {
	case "image/jpeg":
		cfg, err = jpeg.DecodeConfig(bytes.NewReader(data))
	case "image/png":
		cfg, err = png.DecodeConfig(bytes.NewReader(data))
	case "image/webp":
		// RIFF, size, WEBP, then a VP8, VP8L or VP8X chunk.
		if len(data) < 20 || !bytes.Equal(data[8:12], []byte("WEBP")) ||
			!bytes.HasPrefix(data[12:16], []byte("VP8")) {
			return "", "", false
		}
		return kind, ext, true
	}
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > maxPixels {
		return "", "", false
	}
	return kind, ext, true
}

// savePhoto writes the photo whole or not at all.
func (h *Handler) savePhoto(name string, data []byte) error {
	f, err := os.CreateTemp(h.photoDir, ".upload-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o640)
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(h.photoDir, name))
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// photo serves an uploaded photo. Names are 128 random bits, so the link
// in a case is the only way to it.
func (h *Handler) photo(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if h.photoDir == "" || !photoNameRE.MatchString(name) {
		http.NotFound(w, r)
		return
	}
	f, err := os.Open(filepath.Join(h.photoDir, name))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		http.NotFound(w, r)
		return
	}
	hd := w.Header()
	for kind, ext := range photoTypes {
		if filepath.Ext(name) == ext {
			hd.Set("Content-Type", kind)
		}
	}
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	hd.Set("Cross-Origin-Resource-Policy", "cross-origin")
	hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	http.ServeContent(w, r, name, st.ModTime(), f)
}

// photoURL is where a photo is served, as a full URL for the case.
func (h *Handler) photoURL(r *http.Request, name string) string {
	base := h.public
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	return base + "/api/v1/photos/" + name
}
