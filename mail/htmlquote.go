package mail

import (
	"strings"

	"github.com/inbucket/html2text"
	"github.com/jhillyerd/enmime/v2"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// HTML-only replies mark their history with elements, not lines: Gmail's gmail_quote, Apple
// Mail's and Thunderbird's blockquote type=cite (with moz-cite-prefix above it), Yahoo's
// yahoo_quoted, Outlook's divRplyFwdMsg or its border-top separator followed by the quoted
// mail as siblings, Lotus Notes' header table. Once converted to text those marks are gone or
// scrambled, so they are removed from the HTML first, and the rest converted the way enmime
// converts the whole (html2text, the same options).

// maxHTMLQuoteBytes bounds the HTML parsed a second time; a larger body keeps the plain
// conversion and the text rules.
const maxHTMLQuoteBytes = 2 << 20

// htmlReply returns the text of an HTML-only message with its quoted blocks left out; "" when
// the message has a text part, no quoted block, or cannot be converted.
func htmlReply(env *enmime.Envelope) string {
	if env.HTML == "" || len(env.HTML) > maxHTMLQuoteBytes || !textFromHTML(env) {
		return ""
	}
	return htmlWithoutQuotes(env.HTML)
}

// textFromHTML reports whether enmime made the text from the HTML (there was no text part).
func textFromHTML(env *enmime.Envelope) bool {
	for _, e := range env.Errors {
		if e.Name == enmime.ErrorPlainTextFromHTML {
			return true
		}
	}
	return false
}

// htmlWithoutQuotes converts src to text without its quoted blocks; "" when it has none.
func htmlWithoutQuotes(src string) string {
	doc, err := html.Parse(strings.NewReader(src))
	if err != nil {
		return ""
	}
	var remove []*html.Node
	cut, _ := findQuotes(doc, &remove)
	if cut == nil && len(remove) == 0 {
		return ""
	}
	for _, n := range remove {
		if n.Parent != nil {
			n.Parent.RemoveChild(n)
		}
	}
	if cut != nil {
		cutToEnd(cut)
	}
	text, err := html2text.FromHTMLNode(doc)
	if err != nil {
		return ""
	}
	return cleanText(text)
}

// findQuotes walks n in document order, collecting the quoted blocks to remove, and returns
// the element where history that runs to the end of the mail starts, if any. A forwarded
// message ends the search: it and everything after it is content the writer sends on purpose.
func findQuotes(n *html.Node, remove *[]*html.Node) (cut *html.Node, stop bool) {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type != html.ElementNode {
			continue
		}
		switch quoteKind(c) {
		case quoteBlock:
			*remove = append(*remove, c)
			continue
		case quoteToEnd:
			return c, true
		case quoteForward:
			return nil, true
		}
		if cut, stop := findQuotes(c, remove); stop {
			return cut, true
		}
	}
	return nil, false
}

type quoteMark int

const (
	notQuote quoteMark = iota
	quoteBlock
	quoteToEnd
	quoteForward
)

func quoteKind(n *html.Node) quoteMark {
	class := " " + strings.ToLower(attr(n, "class")) + " "
	id := strings.ToLower(attr(n, "id"))
	var kind quoteMark
	switch {
	case n.DataAtom == atom.Blockquote && strings.EqualFold(attr(n, "type"), "cite"),
		strings.Contains(class, " gmail_quote "), strings.Contains(class, " gmail_attr "),
		strings.Contains(class, " yahoo_quoted "), strings.Contains(class, " moz-cite-prefix "):
		kind = quoteBlock
	case id == "divrplyfwdmsg", strings.HasPrefix(id, "olk_src_body_section"), id == "mail-editor-reference-message-container",
		strings.Contains(class, " outlookmessageheader "):
		kind = quoteToEnd
	case n.DataAtom == atom.Div || n.DataAtom == atom.Table || n.DataAtom == atom.P:
		lines := textLines(n, 8)
		if len(lines) == 0 {
			return notQuote
		}
		first := lines[0]
		// Outlook's border-top separator, a Lotus Notes header table, an older Outlook's
		// "Original Message" line: history from here on.
		if originalMessageRE.MatchString(first) ||
			(headerFromKeyRE.MatchString(first) && headerLines(lines) >= 3 && (n.DataAtom == atom.Table ||
				strings.Contains(strings.ToLower(attr(n, "style")), "border-top"))) {
			kind = quoteToEnd
		}
	}
	if kind != notQuote {
		for _, l := range textLines(n, 20) {
			if forwardMarkerRE.MatchString(l) {
				return quoteForward
			}
		}
	}
	return kind
}

// headerLines counts the lines that are "Key:" lines of a header block, joining a key with
// the value that a table puts in the next cell.
func headerLines(lines []string) int {
	n := 0
	for _, l := range lines {
		if headerKeyRE.MatchString(l) {
			n++
		}
	}
	return n
}

// textLines returns up to max non-blank text nodes under n, trimmed, each the start of a
// line as far as these checks are concerned. It looks at a bounded number of nodes, so that
// checking every element of deeply nested markup stays linear.
func textLines(n *html.Node, max int) []string {
	var out []string
	budget := 64 * max
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		for c := n.FirstChild; c != nil && len(out) < max && budget > 0; c = c.NextSibling {
			budget--
			if c.Type == html.TextNode {
				if t := strings.TrimSpace(strings.ReplaceAll(c.Data, "\u00a0", " ")); t != "" {
					out = append(out, t)
				}
				continue
			}
			walk(c)
		}
	}
	walk(n)
	return out
}

// cutToEnd removes n and everything after it in document order, and a rule (<hr>) right
// before it, which Outlook puts above the quoted mail.
func cutToEnd(n *html.Node) {
	for p := n.PrevSibling; p != nil; p = p.PrevSibling {
		if p.Type == html.TextNode && strings.TrimSpace(p.Data) == "" {
			continue
		}
		if p.Type == html.ElementNode && p.DataAtom == atom.Hr {
			p.Parent.RemoveChild(p)
		}
		break
	}
	for cur := n; cur != nil && cur.Parent != nil; cur = cur.Parent {
		for s := cur.NextSibling; s != nil; {
			next := s.NextSibling
			cur.Parent.RemoveChild(s)
			s = next
		}
	}
	n.Parent.RemoveChild(n)
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}
