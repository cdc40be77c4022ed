package config

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// keyPaths lists every YAML key of t as dotted paths (smtp.tls.cert_file).
func keyPaths(t reflect.Type, prefix string) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		name := yamlName(t.Field(i))
		if name == "" {
			continue
		}
		ft := t.Field(i).Type
		if ft.Kind() == reflect.Struct && ft != reflect.TypeOf(Duration(0)) {
			out = append(out, keyPaths(ft, prefix+name+".")...)
			continue
		}
		out = append(out, prefix+name)
	}
	return out
}

// TestExampleConfigHasEveryKey: mailgate.example.yaml passes validation as it ships and
// names every key, as does the table of docs/configuration.md, so that it stays the complete reference a new operator copies.
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
	ref, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range keyPaths(reflect.TypeOf(Config{}), "") {
		if !hasPath(doc, p) {
			t.Errorf("mailgate.example.yaml lacks %s", p)
		}
		if !strings.Contains(string(ref), "| `"+p+"` |") {
			t.Errorf("docs/configuration.md lacks a row for %s", p)
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
