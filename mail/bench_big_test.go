package mail

import (
	"encoding/base64"
	"strings"
	"testing"
)

func BenchmarkParseBig(b *testing.B) {
	pdf := base64.StdEncoding.EncodeToString(append([]byte("%PDF-1.4\n"), make([]byte, 75000)...))
	var sb strings.Builder
	sb.WriteString("From: a@b.example\r\nTo: support@example.com\r\nSubject: big\r\nMessage-ID: <x@y>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=LOADGEN\r\n\r\n--LOADGEN\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee.\r\n--LOADGEN\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=report.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	for i := 0; i < len(pdf); i += 76 {
		sb.WriteString(pdf[i:min(i+76, len(pdf))] + "\r\n")
	}
	sb.WriteString("--LOADGEN--\r\n")
	raw := []byte(sb.String())
	for _, path := range []string{"fast", "enmime"} {
		p := NewParser(Policy{MaxFileBytes: 1 << 20, AllowedExtensions: []string{".pdf"}})
		p.noFast = path == "enmime"
		b.Run(path, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if _, err := p.Parse(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
