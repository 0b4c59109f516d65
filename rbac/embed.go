// Package rbac holds the reviewed role definitions the generator ships into
// downstream clusters. Each preset is one YAML file named after it; the file
// is copied into the generated tree as it is, so what is reviewed here is
// exactly what is applied.
package rbac

import "embed"

// Presets holds one <preset>.yaml per preset role.
//
//go:embed *.yaml
var Presets embed.FS
