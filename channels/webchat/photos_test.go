package webchat

import (
	"bytes"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func pngBytes(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	img.Set(0, 0, color.RGBA{200, 30, 30, 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegBytes(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, 8, 8)), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// webpBytes is the smallest lossless WebP header: enough for the sniffer.
func webpBytes() []byte {
	body := []byte("WEBPVP8L\x0a\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00")
	out := []byte("RIFF")
	n := len(body)
	out = append(out, byte(n), byte(n>>8), byte(n>>16), byte(n>>24))
	return append(out, body...)
}

// upload posts data as the multipart field "photo", named name.
func (hs *harness) upload(id, token, name string, data []byte) *http.Response {
	hs.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("photo", name)
	if err != nil {
		hs.t.Fatal(err)
	}
	fw.Write(data)
	mw.Close()
	return hs.request("POST", "/api/v1/conversations/"+id+"/photos", &body,
		"Authorization", "Bearer "+token, "Content-Type", mw.FormDataContentType())
}

func TestPhotoUpload(t *testing.T) {
	eng := &fakeEngine{}
	dir := t.TempDir()
	hs := newHarness(t, eng, func(c *Config) {
		c.PhotoDir, c.PublicURL, c.MaxPhotoBytes = dir, "https://311.example.city/", 64<<10
	})
	id, token := hs.start()

	for _, tc := range []struct {
		name string
		data []byte
		kind string
	}{
		{"pothole.png", pngBytes(t, 40, 30), "image/png"},
		{"pothole.jpeg", jpegBytes(t), "image/jpeg"},
		{"whatever.bin", webpBytes(), "image/webp"}, // the name does not matter, the bytes do
	} {
		var up uploaded
		decode(t, hs.upload(id, token, tc.name, tc.data), http.StatusCreated, &up)
		if up.Type != tc.kind || up.Bytes != len(tc.data) || up.URL != "https://311.example.city/api/v1/photos/"+up.Photo {
			t.Errorf("%s: %+v", tc.name, up)
		}
		stored, err := os.ReadFile(filepath.Join(dir, up.Photo))
		if err != nil || !bytes.Equal(stored, tc.data) {
			t.Errorf("%s: stored %d bytes, %v", tc.name, len(stored), err)
		}
		r := hs.request("GET", "/api/v1/photos/"+up.Photo, nil)
		served, _ := io.ReadAll(r.Body)
		if r.StatusCode != 200 || r.Header.Get("Content-Type") != tc.kind || r.Header.Get("X-Content-Type-Options") != "nosniff" || !bytes.Equal(served, tc.data) {
			t.Errorf("%s served: %d %s", tc.name, r.StatusCode, r.Header.Get("Content-Type"))
		}

		// The reference goes into the next message; the engine gets the URL
		// that becomes the case's media_url.
		decode(t, hs.send(id, token, `{"photo":"`+up.Photo+`"}`), http.StatusOK, nil)
		if in := eng.last(t); len(in.Media) != 1 || in.Media[0] != up.URL {
			t.Errorf("%s: engine got media %v", tc.name, in.Media)
		}
	}

	// Not a photo, whatever it says it is.
	var gifData bytes.Buffer
	gif.Encode(&gifData, image.NewPaletted(image.Rect(0, 0, 2, 2), []color.Color{color.Black, color.White}), nil)
	for name, data := range map[string][]byte{
		"animated.gif":  gifData.Bytes(),
		"evil.jpg":      []byte("<html><script>alert(1)</script></html>"),
		"truncated.png": pngBytes(t, 4, 4)[:20],
		"fake.webp":     []byte("RIFF\x10\x00\x00\x00WEBPJUNKJUNKJUNK"),
		"huge.png":      pngHeader(100000, 100000),
	} {
		if code := errorCode(t, hs.upload(id, token, name, data), http.StatusUnsupportedMediaType); code != "unsupported_photo_type" {
			t.Errorf("%s: %q", name, code)
		}
	}
	// Too big.
	if code := errorCode(t, hs.upload(id, token, "big.png", append(pngBytes(t, 4, 4), make([]byte, 70<<10)...)), http.StatusRequestEntityTooLarge); code != "photo_too_large" {
		t.Errorf("too big: %q", code)
	}
	// No photo field, not multipart.
	if code := errorCode(t, hs.request("POST", "/api/v1/conversations/"+id+"/photos", strings.NewReader("{}"),
		"Authorization", "Bearer "+token, "Content-Type", "application/json"), http.StatusBadRequest); code != "want_multipart" {
		t.Errorf("JSON body: %q", code)
	}

	// Another conversation cannot use this one's photos.
	other, otherToken := hs.start()
	if code := errorCode(t, hs.send(other, otherToken, `{"photo":"`+mustUpload(t, hs, id, token)+`"}`), http.StatusBadRequest); code != "unknown_photo" {
		t.Errorf("photo of another conversation: %q", code)
	}

	// Served names are checked: no way out of the folder.
	for _, name := range []string{"..%2f..%2fetc%2fpasswd", "nothere.png", "0123456789abcdef0123456789abcdef.gif"} {
		if r := hs.request("GET", "/api/v1/photos/"+name, nil); r.StatusCode != http.StatusNotFound {
			t.Errorf("GET photo %s: %d", name, r.StatusCode)
		}
	}
}

func TestPhotoLimitPerConversation(t *testing.T) {
	hs := newHarness(t, nil, func(c *Config) { c.Store = NewMemoryStore(0, nil, MemoryLimits{Photos: 2}) })
	id, token := hs.start()
	mustUpload(t, hs, id, token)
	mustUpload(t, hs, id, token)
	if code := errorCode(t, hs.upload(id, token, "c.png", pngBytes(t, 2, 2)), http.StatusTooManyRequests); code != "too_many_photos" {
		t.Errorf("third photo: %q", code)
	}
}

func mustUpload(t *testing.T, hs *harness, id, token string) string {
	t.Helper()
	var up uploaded
	decode(t, hs.upload(id, token, "p.png", pngBytes(t, 2, 2)), http.StatusCreated, &up)
	return up.Photo
}

// pngHeader is a PNG signature and header claiming w by h pixels.
func pngHeader(w, h int) []byte {
	var b bytes.Buffer
	img := image.NewGray(image.Rect(0, 0, 1, 1))
	png.Encode(&b, img)
	data := b.Bytes()
	put := func(at, v int) {
		data[at], data[at+1], data[at+2], data[at+3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
	}
	put(16, w)
	put(20, h)
	put(29, int(crc32.ChecksumIEEE(data[12:29]))) // the header chunk's checksum
	return data
}
