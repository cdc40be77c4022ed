package mail

import (
	"regexp"
	"strings"
)

// uuFile is a file found uuencoded in a body or an x-uuencode part.
type uuFile struct {
	name string
	data []byte
}

var uuBeginLine = regexp.MustCompile(`^begin(?:-base64)? +([0-7]{3,4}) +(.+?)\s*$`)

// uudecodeBlock decodes the lines after a "begin" line up to "end". It reports the number of
// lines consumed including "end", or ok=false when a line is not uuencode, in which case the
// text is left as it is: a line that merely starts with "begin 644" is prose.
func uudecodeBlock(lines []string) (data []byte, used int, ok bool) {
	for i, line := range lines {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "end" {
			return data, i + 1, true
		}
		if line == "" {
			return nil, 0, false
		}
		if line[0] < ' ' || line[0] > '`' {
			return nil, 0, false
		}
		n := int((line[0] - ' ') & 63)
		if n == 0 {
			continue // the "`" line before end
		}
		if n > 45 {
			return nil, 0, false
		}
		enc := line[1:]
		need := (n + 2) / 3 * 4
		if len(enc) < need {
			// Some gateways strip trailing spaces, which encode zero bits; more than a few
			// missing characters is not uuencode.
			if need-len(enc) > 8 {
				return nil, 0, false
			}
			enc += strings.Repeat(" ", need-len(enc))
		}
		out := make([]byte, 0, n+2)
		for j := 0; j+4 <= need; j += 4 {
			var v [4]byte
			for k := 0; k < 4; k++ {
				c := enc[j+k]
				if c < ' ' || c > '`' {
					return nil, 0, false
				}
				v[k] = (c - ' ') & 63
			}
			out = append(out, v[0]<<2|v[1]>>4, v[1]<<4|v[2]>>2, v[2]<<6|v[3])
		}
		data = append(data, out[:n]...)
	}
	return nil, 0, false
}

// extractUU takes the uuencoded files out of a text body (old Unix mailers and some scanners
// still send them so), leaving a line that names each file where it was.
func extractUU(text string) (string, []uuFile) {
	if !strings.Contains(text, "begin ") {
		return text, nil
	}
	lines := strings.Split(text, "\n")
	var out []string
	var files []uuFile
	for i := 0; i < len(lines); i++ {
		m := uuBeginLine.FindStringSubmatch(strings.TrimRight(lines[i], "\r"))
		if m == nil {
			out = append(out, lines[i])
			continue
		}
		data, used, ok := uudecodeBlock(lines[i+1:])
		if !ok {
			out = append(out, lines[i])
			continue
		}
		files = append(files, uuFile{name: m[2], data: data})
		out = append(out, "[attachment: "+cleanName(m[2])+"]")
		i += used
	}
	return strings.Join(out, "\n"), files
}

// uudecodePart decodes an x-uuencode part: the first block in it.
func uudecodePart(content []byte) (uuFile, bool) {
	_, files := extractUU(strings.ReplaceAll(string(content), "\r\n", "\n"))
	if len(files) == 0 {
		return uuFile{}, false
	}
	return files[0], true
}
