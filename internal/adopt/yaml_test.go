package adopt_test

import "sigs.k8s.io/yaml"

func yamlToAny(s string, v any) error { return yaml.Unmarshal([]byte(s), v) }
