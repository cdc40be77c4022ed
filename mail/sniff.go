package mail

import (
	"bytes"
	"fmt"
	"strings"
)

// Magic numbers of the allowed types, so that a ".pdf" must be a PDF.
var magic = map[string][][]byte{
	".pdf":  {[]byte("%PDF-")},
	".jpg":  {{0xFF, 0xD8, 0xFF}},
	".jpeg": {{0xFF, 0xD8, 0xFF}},
	".png":  {{0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'}},
	".bmp":  {[]byte("BM")},
	".zip":  {[]byte("PK\x03\x04"), []byte("PK\x05\x06")},
	".docx": {[]byte("PK\x03\x04")},
	".xlsx": {[]byte("PK\x03\x04")},
	".doc":  {{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}},
	".xls":  {{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}},
}

// Executable formats, refused whatever their name says.
var programs = [][]byte{
	[]byte("MZ"),             // Windows PE
	[]byte("\x7fELF"),        // Linux
	{0xCF, 0xFA, 0xED, 0xFE}, // Mach-O 64
	{0xCE, 0xFA, 0xED, 0xFE}, // Mach-O 32
	{0xCA, 0xFE, 0xBA, 0xBE}, // Mach-O universal
	[]byte("#!"),             // scripts
}

// sniff returns why content does not match ext, or "" when it does.
func sniff(ext string, content []byte) string {
	for _, p := range programs {
		if bytes.HasPrefix(content, p) {
			return "the file is a program, whatever its name says"
		}
	}
	switch ext {
	case ".txt", ".csv":
		head := content[:min(len(content), 8192)]
		if bytes.IndexByte(head, 0) >= 0 {
			return fmt.Sprintf("the file is not text, as %q says", ext)
		}
		return ""
	case ".tar":
		if len(content) < 262 || !bytes.Equal(content[257:262], []byte("ustar")) {
			return "the file is not a tar archive, as \".tar\" says"
		}
		return ""
	}
	sigs, known := magic[ext]
	if !known {
		return "" // an extension the operator added: only the program check applies
	}
	for _, sig := range sigs {
		if bytes.HasPrefix(content, sig) {
			return ""
		}
	}
	return fmt.Sprintf("the file's content does not match its %q extension", ext)
}

// Families of formats that clients mix up without harm: a PNG saved as ".jpg" opens in every
// viewer, so it is kept when both are allowed; a ZIP named ".pdf" is another family and stays
// refused.
var families = [][]string{
	{".jpg", ".jpeg", ".png", ".bmp", ".gif"},
	{".zip", ".docx", ".xlsx"},
	{".doc", ".xls"},
}

var gifMagic = [][]byte{[]byte("GIF87a"), []byte("GIF89a")}

// sniffFamily is sniff, but content of another allowed type of the same family as ext passes.
func sniffFamily(ext string, content []byte, allowed func(string) bool) string {
	why := sniff(ext, content)
	if why == "" || strings.HasPrefix(why, "the file is a program") {
		return why
	}
	for _, fam := range families {
		if !contains(fam, ext) {
			continue
		}
		for _, other := range fam {
			if other == ext || !allowed(other) {
				continue
			}
			sigs := magic[other]
			if other == ".gif" {
				sigs = gifMagic
			}
			for _, sig := range sigs {
				if bytes.HasPrefix(content, sig) {
					return ""
				}
			}
		}
	}
	return why
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
