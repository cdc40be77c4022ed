package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// leafKeys lists the dotted YAML key of every value a config file can set.
func leafKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		if strings.Contains(f.Tag.Get("yaml"), ",inline") {
			keys = append(keys, leafKeys(f.Type, prefix)...)
			continue
		}
		name := yamlName(f)
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		key := prefix + name
		ft := f.Type
		// A struct with its own YAML form (Duration) or no fields of its own is one value.
		if ft.Kind() == reflect.Struct && ft.NumField() > 0 && !reflect.PointerTo(ft).Implements(reflect.TypeFor[interface{ UnmarshalYAML(any) error }]()) {
			keys = append(keys, leafKeys(ft, key+".")...)
			continue
		}
		keys = append(keys, key)
	}
	return keys
}

// The configuration reference names every key a file can set, so that a key added to the code
// without its line in the reference fails here.
func TestReferenceNamesEveryKey(t *testing.T) {
	doc, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range leafKeys(reflect.TypeFor[Config](), "") {
		if !strings.Contains(string(doc), "`"+k+"`") {
			t.Errorf("docs/configuration.md does not describe `%s`", k)
		}
	}
}
