package mail

import (
	"strings"

	"github.com/inbucket/html2text"
	"github.com/jhillyerd/enmime/v2"
	"github.com/jhillyerd/enmime/v2/mediatype"
)

// Every leaf of the MIME tree is one of four things, and each is dealt with: body text (the
// message's words), a signature (S/MIME or PGP: proof, not content, never listed to the
// customer), a container (a multipart walked into, or read as text when it has no boundary),
// or a file, kept or named to the sender with the reason. An inline image without a name
// (a screenshot pasted into Outlook or Gmail, a multipart/related part found by Content-ID)
// is a file like any other, named "image-1.png" by us.

// signatureTypes are detached signatures: RFC 8551 and RFC 3156.
var signatureTypes = map[string]bool{
	"application/pkcs7-signature": true, "application/x-pkcs7-signature": true,
	"application/pgp-signature": true,
}

// uuEncodings are the Content-Transfer-Encoding names old mailers use for uuencode.
var uuEncodings = map[string]bool{"x-uuencode": true, "uuencode": true, "x-uue": true, "x-uu": true}

// tree walks a message parsed by enmime, fills m.Text and applies the attachment policy to
// every file.
type tree struct {
	p              *Parser
	m              *Message
	images, others int // counters for generated names
}

func (p *Parser) fromTree(m *Message, root *enmime.Part) {
	t := &tree{p: p, m: m}
	m.Text = cleanText(t.walk(root).text)
}

// body is the text of a subtree; html is set when it all came from HTML.
type body struct {
	text string
	html bool
}

// walk returns the body text of part's subtree and files everything else in it.
func (t *tree) walk(part *enmime.Part) body {
	if part.FirstChild != nil {
		return t.container(part)
	}
	ct := strings.ToLower(part.ContentType)
	if ct == "" {
		ct = "text/plain" // RFC 2046 §5.1: a part without a header is plain text
	}
	if signatureTypes[ct] {
		return body{}
	}
	if uuEncodings[strings.ToLower(strings.TrimSpace(part.Header.Get("Content-Transfer-Encoding")))] {
		if f, ok := uudecodePart(part.Content); ok {
			name := part.FileName
			if name == "" {
				name = f.name
			}
			t.file(name, ct, f.data, "")
			return body{}
		}
	}
	badExt, badName := undecodedName(part)
	isText := ct == "text/plain" || ct == "text/html" || strings.HasPrefix(ct, "multipart/")
	if isText && part.Disposition != "attachment" && part.FileName == "" && !badName {
		s := decodeText(declaredCharset(part), part.Content, ct == "text/html")
		if ct == "text/html" {
			if conv, err := html2text.FromString(s); err == nil {
				s = conv
			}
		}
		return body{text: s, html: ct == "text/html"}
	}
	t.file(part.FileName, ct, part.Content, badExt)
	return body{}
}

// container reads a multipart: of alternatives the first plain text if there is one, else
// the first that has text; of anything else every part's text in order, leaving out HTML
// when there is plain text (a sender's HTML copy of the same words).
func (t *tree) container(part *enmime.Part) body {
	alternative := strings.EqualFold(part.ContentType, "multipart/alternative")
	var texts []body
	hasPlain := false
	for c := part.FirstChild; c != nil; c = c.NextSibling {
		b := t.walk(c)
		if strings.TrimSpace(b.text) == "" {
			continue
		}
		hasPlain = hasPlain || !b.html
		texts = append(texts, b)
	}
	if len(texts) == 0 {
		return body{}
	}
	if alternative {
		for _, b := range texts {
			if !b.html {
				return b
			}
		}
		return texts[0]
	}
	var out []string
	for _, b := range texts {
		if !b.html || !hasPlain {
			out = append(out, b.text)
		}
	}
	return body{text: strings.Join(out, "\n\n"), html: !hasPlain}
}

// undecodedName reports a file name given in a charset that could not be decoded, with its
// extension when that much is plain ASCII.
func undecodedName(part *enmime.Part) (ext string, bad bool) {
	if part.FileName != "" {
		return "", false
	}
	for _, h := range []string{part.Header.Get("Content-Disposition"), part.Header.Get("Content-Type")} {
		if !strings.Contains(h, "*") {
			continue
		}
		for k, v := range rfc2231Params(h) {
			if (k == "filename" || k == "name") && !v.ok {
				return v.value, true
			}
		}
	}
	return "", false
}

// file files one part; a part without a usable name gets a generated one (with ext, the
// extension salvaged from an undecodable name, if any), and the kept file says so, so that
// the acknowledgement can tell the sender what we called it.
func (t *tree) file(name, ct string, data []byte, ext string) {
	name = cleanName(name)
	generated := false
	if name == "" && ct != "message/rfc822" {
		n := &t.others
		if strings.HasPrefix(ct, "image/") {
			n = &t.images
		}
		*n++
		name, generated = generatedName(ct, ext, *n), true
	}
	kept := len(t.m.Attachments)
	t.p.file(t.m, name, ct, data)
	if generated && len(t.m.Attachments) > kept {
		t.m.Attachments[kept].Generated = true
	}
}

// declaredCharset reads the charset a part declares (enmime is told another, see
// mediaTypeHook).
func declaredCharset(part *enmime.Part) string {
	_, params, _, err := mediatype.Parse(part.Header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return params["charset"]
}
