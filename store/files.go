package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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

func (s *Store) kFile(sha string) string     { return s.p + "file:" + sha }
func (s *Store) kFileRefs(sha string) string { return s.p + "file:" + sha + ":refs" }

// fileOps stores each file unless it is there already, and gives it ttl from now either way:
// every commit that references a file extends its life to cover its own mails. The file's
// reference set names the queued mails that carry it: when the last is sent, the file goes
// (releaseFiles); the TTL removes what a crash, a dead letter or a capped mail leaves behind.
func (s *Store) fileOps(t *tx, files []File, ttl time.Duration, mails []Outgoing) {
	for _, f := range files {
		// Ahead of the script: a file's megabytes would be hashed byte by byte as a Lua
		// string. If a release deletes it before the script runs, the script finds it
		// missing and the commit is decided again.
		k := s.kFile(f.SHA256)
		t.blob(false, "SET", k, f.Data, "PX", ttl.Milliseconds(), "NX")
		t.pre = append(t.pre, []any{"PEXPIRE", k, ttl.Milliseconds()})
	}
	for _, m := range mails {
		for _, sha := range refSHAs(m.Files) {
			t.op("SADD", []string{s.kFileRefs(sha)}, m.ID)
			t.op("PEXPIRE", []string{s.kFileRefs(sha)}, ttl.Milliseconds())
		}
	}
}

// refSHAs lists the files refs name, once each.
func refSHAs(refs []FileRef) []string {
	var out []string
	for _, r := range refs {
		if !slices.Contains(out, r.SHA256) {
			out = append(out, r.SHA256)
		}
	}
	return out
}

// releaseScript drops sent mails from their files' reference sets, and a file no queued mail
// references any more. A commit referencing the file again either ran before (the set is not
// empty) or runs after and stores the file anew: it carries the bytes.
var releaseScript = redis.NewScript(`
for i = 1, #ARGV do
  local f, refs = KEYS[2 * i - 1], KEYS[2 * i]
  redis.call('SREM', refs, ARGV[i])
  if redis.call('SCARD', refs) == 0 then
    redis.call('DEL', f, refs)
  end
end
return 0`)

// releaseFiles removes the files that only the sent items (minus the lost ones) referenced.
func (s *Store) releaseFiles(ctx context.Context, items []*OutboxItem, lost []string) error {
	var keys []string
	var args []any
	for _, it := range items {
		if slices.Contains(lost, it.ID) {
			continue
		}
		for _, sha := range refSHAs(it.Files) {
			keys = append(keys, s.kFile(sha), s.kFileRefs(sha))
			args = append(args, it.ID)
		}
	}
	if len(args) == 0 {
		return nil
	}
	if err := releaseScript.Run(ctx, s.rdb, keys, args...).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("release sent mails' files: %w", err)
	}
	return nil
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
