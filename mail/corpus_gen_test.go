package mail

import (
	"bytes"
	"encoding/base64"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
)

// The corpus in testdata/mime is written by this generator, so that every fixture says how it
// was made: `go test ./mail -run TestGenerateCorpus -update-corpus`. The fixtures model what
// real clients send (Outlook, Gmail, Lotus Notes, old Unix mailers, broken scripts).
var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/mime from the generator")

func TestGenerateCorpus(t *testing.T) {
	for name, raw := range corpus() {
		fn := filepath.Join("testdata", "mime", name+".eml")
		if *updateCorpus {
			if err := os.WriteFile(fn, raw, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		old, err := os.ReadFile(fn)
		if err != nil || !bytes.Equal(old, raw) {
			t.Errorf("%s is not what the generator writes; run with -update-corpus", fn)
		}
	}
}

// Small valid contents of each family, so that the magic-number check passes.
var (
	pngBytes = append([]byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'}, bytes.Repeat([]byte{0x42}, 40)...)
	jpgBytes = append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, bytes.Repeat([]byte{0x11}, 40)...)
	gifBytes = append([]byte("GIF89a"), bytes.Repeat([]byte{0x01}, 30)...)
	pdfBytes = []byte("%PDF-1.4\n1 0 obj << >> endobj\n%%EOF\n")
	zipBytes = append([]byte("PK\x03\x04"), bytes.Repeat([]byte{0}, 30)...)
)

func enc(e encoding.Encoding, s string) string {
	b, err := e.NewEncoder().String(s)
	if err != nil {
		panic(err)
	}
	return b
}

func b64(b []byte) string {
	s := base64.StdEncoding.EncodeToString(b)
	var out strings.Builder
	for len(s) > 76 {
		out.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	out.WriteString(s)
	return out.String()
}

// pct is RFC 2231 percent-encoding of every non-attribute-char byte.
func pct(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func head(subject string, extra ...string) string {
	h := "From: Customer <customer@client.example>\r\nTo: support@example.com\r\n" +
		"Subject: " + subject + "\r\nMessage-ID: <" + fmt.Sprint(len(subject)) + "." + strings.ReplaceAll(subject[:min(len(subject), 12)], " ", "") + "@client.example>\r\n" +
		"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
	for _, e := range extra {
		h += e + "\r\n"
	}
	return h
}

// mixed builds a multipart body: each part is its header lines and its content.
func multipart(kind, boundary string, parts ...string) string {
	var b strings.Builder
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: multipart/" + kind + "; boundary=\"" + boundary + "\"\r\n\r\n")
	b.WriteString("This is a multi-part message in MIME format.\r\n")
	for _, p := range parts {
		b.WriteString("--" + boundary + "\r\n" + p + "\r\n")
	}
	b.WriteString("--" + boundary + "--\r\n")
	return b.String()
}

func part(header, content string) string { return header + "\r\n\r\n" + content }

const plainUTF8 = "Content-Type: text/plain; charset=utf-8"

func uuencodeFile(name string, data []byte) string {
	var b strings.Builder
	b.WriteString("begin 644 " + name + "\n")
	for len(data) > 0 {
		n := min(len(data), 45)
		chunk := data[:n]
		data = data[n:]
		b.WriteByte(byte(32 + n))
		for i := 0; i < n; i += 3 {
			var g [3]byte
			copy(g[:], chunk[i:min(i+3, n)])
			for _, v := range []byte{g[0] >> 2, (g[0]<<4 | g[1]>>4) & 63, (g[1]<<2 | g[2]>>6) & 63, g[2] & 63} {
				if v == 0 {
					b.WriteByte('`')
				} else {
					b.WriteByte(32 + v)
				}
			}
		}
		b.WriteByte('\n')
	}
	b.WriteString("`\nend\n")
	return b.String()
}

func toCRLF(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
}

func corpus() map[string][]byte {
	latin1 := charmap.ISO8859_1
	jis := japanese.ISO2022JP
	c := map[string]string{
		"rfc2231-latin1": head("Invoice attached") + multipart("mixed", "b1",
			part(plainUTF8, "Please find my résumé attached."),
			part("Content-Type: application/pdf\r\nContent-Disposition: attachment; filename*=iso-8859-1''"+pct(enc(latin1, "résumé été.pdf"))+"\r\nContent-Transfer-Encoding: base64", b64(pdfBytes))),
		"rfc2231-iso2022jp": head("Report") + multipart("mixed", "b2",
			part(plainUTF8, "報告書を添付します。"),
			part("Content-Type: application/pdf; name*=iso-2022-jp'ja'"+pct(enc(jis, "報告書.pdf"))+"\r\nContent-Disposition: attachment\r\nContent-Transfer-Encoding: base64", b64(pdfBytes))),
		"rfc2231-continuation": head("Photos") + multipart("mixed", "b3",
			part(plainUTF8, "Two photos."),
			part("Content-Type: image/jpeg\r\nContent-Disposition: attachment;\r\n filename*0*=windows-1252''"+pct(enc(charmap.Windows1252, "Café “Zürich”"))+";\r\n filename*1*="+pct(enc(charmap.Windows1252, " – vue.jpg"))+"\r\nContent-Transfer-Encoding: base64", b64(jpgBytes)),
			part("Content-Type: image/png\r\nContent-Disposition: attachment;\r\n filename*0=\"screen\";\r\n filename*1=\"shot.png\"\r\nContent-Transfer-Encoding: base64", b64(pngBytes))),
		"rfc2231-undecodable": head("Unknown charset name") + multipart("mixed", "b4",
			part(plainUTF8, "The file name is in a charset nobody knows."),
			part("Content-Type: application/pdf\r\nContent-Disposition: attachment; filename*=x-klingon''%F0%9F%FF%FE.pdf\r\nContent-Transfer-Encoding: base64", b64(pdfBytes))),
		"encoded-word-filename": head("Encoded word name") + multipart("mixed", "b5",
			part(plainUTF8, "See the file."),
			part("Content-Type: application/pdf; name=\"=?iso-8859-1?Q?Rechnung_M=E4rz.pdf?=\"\r\nContent-Disposition: attachment; filename=\"=?iso-8859-1?Q?Rechnung_M=E4rz.pdf?=\"\r\nContent-Transfer-Encoding: base64", b64(pdfBytes))),
		"outlook-pasted-image": head("Error screenshot", "X-Mailer: Microsoft Outlook 16.0") + multipart("related", "b6",
			part("Content-Type: text/html; charset=utf-8", "<html><body><p>The error:</p><img src=\"cid:image001.png@01DB2A\"></body></html>"),
			part("Content-Type: image/png\r\nContent-ID: <image001.png@01DB2A>\r\nContent-Transfer-Encoding: base64", b64(pngBytes))),
		"gmail-pasted-image": head("Two screenshots") + multipart("related", "b7",
			part("Content-Type: multipart/alternative; boundary=\"b7a\"", "--b7a\r\n"+plainUTF8+"\r\n\r\nSee [image: image.png] and the other.\r\n--b7a\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<div>See <img src=\"cid:ii_1\"> and <img src=\"cid:ii_2\"></div>\r\n--b7a--"),
			part("Content-Type: image/jpeg\r\nContent-Disposition: inline\r\nContent-ID: <ii_1>\r\nContent-Transfer-Encoding: base64", b64(jpgBytes)),
			part("Content-Type: image/png\r\nContent-Disposition: inline\r\nContent-ID: <ii_2>\r\nContent-Transfer-Encoding: base64", b64(pngBytes))),
		"lotus-inline-gif": head("Notes mail", "X-Mailer: Lotus Notes Release 9.0.1") + multipart("related", "b8",
			part("Content-Type: text/plain; charset=US-ASCII", "Logo below."),
			part("Content-Type: image/gif\r\nContent-ID: <1__=0ABB@ibm.example>\r\nContent-Transfer-Encoding: base64", b64(gifBytes))),
		"uuencode-part": head("Old mailer") + multipart("mixed", "b9",
			part(plainUTF8, "Log attached."),
			part("Content-Type: application/octet-stream; name=\"server.txt\"\r\nContent-Transfer-Encoding: x-uuencode", uuencodeFile("server.txt", []byte("line one\nline two\nline three\n")))),
		"uuencode-in-text": head("Report inline", "Content-Type: text/plain; charset=us-ascii") + "\r\n" +
			toCRLF("Here is the report.\n\n"+uuencodeFile("report.pdf", bytes.Repeat(pdfBytes, 5))+"\nThanks.\n"),
		"smime-signed": head("Signed") + multipart("signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256", "b10",
			part(plainUTF8, "This message is signed."),
			part("Content-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\nContent-Disposition: attachment; filename=\"smime.p7s\"\r\nContent-Transfer-Encoding: base64", b64([]byte("0\x82signature")))),
		"pgp-signed": head("PGP signed") + multipart("signed; protocol=\"application/pgp-signature\"; micalg=pgp-sha256", "b11",
			part(plainUTF8, "Signed with PGP."),
			part("Content-Type: application/pgp-signature; name=\"signature.asc\"\r\nContent-Disposition: attachment; filename=\"signature.asc\"", "-----BEGIN PGP SIGNATURE-----\r\nabc\r\n-----END PGP SIGNATURE-----")),
		"magic-family": head("Mislabelled files") + multipart("mixed", "b12",
			part(plainUTF8, "A photo and a document."),
			part("Content-Type: image/jpeg\r\nContent-Disposition: attachment; filename=\"photo.jpg\"\r\nContent-Transfer-Encoding: base64", b64(pngBytes)),
			part("Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"contract.pdf\"\r\nContent-Transfer-Encoding: base64", b64(zipBytes))),
		"ascii-lies-utf8": head("Math", "MIME-Version: 1.0", "Content-Type: text/plain; charset=us-ascii", "Content-Transfer-Encoding: 8bit") + "\r\n" +
			"∮ E⋅da = Q, n → ∞, ∑ f(i) = ∏ g(i)\r\n",
		"gb2312-lies-utf8": head("Chinese", "MIME-Version: 1.0", "Content-Type: text/plain; charset=gb2312", "Content-Transfer-Encoding: 8bit") + "\r\n" +
			"你好，我的打印机坏了。\r\n",
		"raw-utf8-subject": strings.Replace(head("Größe der Datei – Überprüfung"), "Subject:", "Subject:", 1) + "Content-Type: text/plain; charset=utf-8\r\n\r\nBody.\r\n",
		"raw-latin1-subject": head(enc(latin1, "Réponse à votre question, merci beaucoup"), "Content-Type: text/plain; charset=iso-8859-1", "Content-Transfer-Encoding: 8bit") + "\r\n" +
			enc(latin1, "Voilà ma réponse détaillée.") + "\r\n",
		"cp1251-undeclared": head("Printer", "Content-Transfer-Encoding: 8bit") + "\r\n" +
			enc(charmap.Windows1251, "Здравствуйте! Принтер не печатает документы, пожалуйста помогите с настройкой драйвера.") + "\r\n",
		"koi8r-declared": head("Printer", "Content-Type: text/plain; charset=koi8-r", "Content-Transfer-Encoding: 8bit") + "\r\n" +
			enc(charmap.KOI8R, "Добрый день, у нас сломался принтер.") + "\r\n",
		"shiftjis-undeclared": head("Printer", "Content-Transfer-Encoding: 8bit") + "\r\n" +
			enc(japanese.ShiftJIS, "お世話になっております。プリンターが動きません。至急対応をお願いします。") + "\r\n",
		"overpadded-word": head("=?gb18030?B?suLK1A===?= =?utf-8?B?5L2g5aW9?=", "Content-Type: text/plain; charset=utf-8") + "\r\nBody.\r\n",
		"latin1-honest": head("Facture", "Content-Type: text/plain; charset=iso-8859-1", "Content-Transfer-Encoding: quoted-printable") + "\r\n" +
			"Bonjour, la facture de d=E9cembre est arriv=E9e. Merci.\r\n",
		"first-line-blank":      "\r\n" + head("Leading blank line", "Content-Type: text/plain") + "\r\nThe MTA delivered this.\r\n",
		"first-header-space":    " " + head("Leading space", "Content-Type: text/plain") + "\r\nAlso delivered.\r\n",
		"multipart-no-boundary": head("No boundary", "MIME-Version: 1.0", "Content-Type: multipart/mixed") + "\r\nThe script forgot the boundary.\r\n",
		"obsolete-from":         strings.Replace(head("Obsolete syntax", "Content-Type: text/plain"), "From:", "From  :", 1) + "\r\nOld mailer.\r\n",
		"address-comments":      strings.Replace(head("Comments", "Content-Type: text/plain"), "From: Customer <customer@client.example>", "From: pete(his account)@silly.test(his host)", 1) + "\r\nRFC 5322 appendix A.5.\r\n",
		"first-part-headerless": head("Headerless part") + multipart("mixed", "b13",
			"\r\nThe first part has no header at all.",
			part("Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"a.pdf\"\r\nContent-Transfer-Encoding: base64", b64(pdfBytes))),
		"huge-subject": head(strings.Repeat("help ", 26000), "Content-Type: text/plain") + "\r\nA very long subject.\r\n",
		"html-cp1252": head("HTML", "Content-Type: text/html; charset=windows-1252", "Content-Transfer-Encoding: 8bit") + "\r\n" +
			enc(charmap.Windows1252, "<html><body><p>Prix : 20 € — merci</p></body></html>") + "\r\n",
		"forwarded-message": head("Fwd: original") + multipart("mixed", "b14",
			part(plainUTF8, "Forwarding the original."),
			part("Content-Type: message/rfc822", "From: x@y.example\r\nSubject: original\r\n\r\nOriginal text.")),
		"unnamed-octet": head("Unnamed file") + multipart("mixed", "b15",
			part(plainUTF8, "A file with no name."),
			part("Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64", b64(zipBytes))),
		"unsafe-names": head("Unsafe names") + multipart("mixed", "b16",
			part(plainUTF8, "Names that try to escape."),
			part("Content-Type: text/plain\r\nContent-Disposition: attachment; filename=\"../../etc/passwd.txt\"", "root:x:0:0"),
			part("Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"=?utf-8?B?Li4vLi4vZXZpbAAucGRm?=\"\r\nContent-Transfer-Encoding: base64", b64(pdfBytes)),
			part("Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"...\"\r\nContent-Transfer-Encoding: base64", b64(pdfBytes))),
		"iso2022jp-subject-body": head("=?ISO-2022-JP?B?"+base64.StdEncoding.EncodeToString([]byte(enc(jis, "見積もり")))+"?=", "Content-Type: text/plain; charset=ISO-2022-JP", "Content-Transfer-Encoding: 7bit") + "\r\n" +
			enc(jis, "見積もりをお願いします。") + "\r\n",
		"utf8-declared-latin1": head("Mislabelled", "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit") + "\r\n" +
			enc(latin1, "Très bien, merci pour la réponse rapide.") + "\r\n",
	}
	out := map[string][]byte{}
	for k, v := range c {
		out[k] = []byte(v)
	}
	return out
}
