package config

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestExampleConfigHasEveryKey: mailgate.example.yaml passes validation as it ships and
// names every key, so that it stays the complete reference a new operator copies.
func TestExampleConfigHasEveryKey(t *testing.T) {
	const path = "../mailgate.example.yaml"
	if _, err := Load(path, nil); err != nil {
		t.Fatalf("the example does not validate: %v", err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, p := range leafKeys(reflect.TypeFor[Config](), "") {
		// Set, or shown in a comment where setting it would replace a built-in default.
		_, leaf, _ := strings.Cut(p, ".")
		if i := strings.LastIndex(leaf, "."); i >= 0 {
			leaf = leaf[i+1:]
		}
		commented := regexp.MustCompile(`(?m)^\s*#\s*` + regexp.QuoteMeta(leaf) + `:`).Match(b)
		if !hasPath(doc, p) && !commented {
			t.Errorf("mailgate.example.yaml lacks %s", p)
		}
	}
}

func hasPath(m map[string]any, path string) bool {
	for {
		key, rest, nested := strings.Cut(path, ".")
		v, ok := m[key]
		if !ok {
			return false
		}
		if !nested {
			return true
		}
		if m, ok = v.(map[string]any); !ok {
			return false
		}
		path = rest
	}
}
