package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Large attachments are stored once, under their SHA-256, however many queued mails carry
// them: a message with a 20 MB file and three notify addresses would otherwise put the file
// into Redis once per notice. A queued mail's raw text then lacks the file's base64 body and
// lists where it goes (FileRef); the worker puts it back just before sending.

// FileRef places a stored file into a queued mail: its base64 body (lines of 76 characters,
// CRLF between them, none after the last) goes at byte At of the mail's raw text.
type FileRef struct {
	At     int    `json:"at"`
	SHA256 string `json:"sha256"`
}

// File is an attachment stored once for the queued mails that reference it.
type File struct {
	SHA256 string
	Data   []byte
}

// ErrFileGone means a queued mail references a stored file that is no longer there (its
// lifetime, outbound.max_age plus a margin, ran out): the mail cannot be sent complete.
var ErrFileGone = errors.New("attached file is no longer stored")

func (s *Store) kFile(sha string) string { return s.p + "file:" + sha }

// fileOps stores each file unless it is there already, and gives it ttl from now either way:
// every commit that references a file extends its life to cover its own mails.
func (s *Store) fileOps(t *tx, files []File, ttl time.Duration) {
	for _, f := range files {
		k := s.kFile(f.SHA256)
		t.op("SET", []string{k}, f.Data, "PX", ttl.Milliseconds(), "NX")
		t.op("PEXPIRE", []string{k}, ttl.Milliseconds())
	}
}

// Files reads stored files by SHA-256. A missing one is an error matching ErrFileGone.
func (s *Store) Files(ctx context.Context, shas []string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(shas))
	for _, sha := range shas {
		if _, ok := out[sha]; ok {
			continue
		}
		// One at a time: a pipeline would hold every file's reply at once.
		b, err := s.rdb.Get(ctx, s.kFile(sha)).Bytes()
		if errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("file %s: %w", sha, ErrFileGone)
		}
		if err != nil {
			return nil, fmt.Errorf("read file %s: %w", sha, err)
		}
		out[sha] = b
	}
	return out, nil
}

func encodeFileRefs(refs []FileRef) string {
	if len(refs) == 0 {
		return ""
	}
	b, _ := json.Marshal(refs)
	return string(b)
}

func decodeFileRefs(v any) ([]FileRef, error) {
	s, ok := v.(string)
	if !ok || s == "" {
		return nil, nil
	}
	var refs []FileRef
	if err := json.Unmarshal([]byte(s), &refs); err != nil {
		return nil, fmt.Errorf("decode file references: %w", err)
	}
	return refs, nil
}
