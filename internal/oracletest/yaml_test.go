package oracletest

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestDecodeStrictRefusesUnknownFields proves DecodeStrict would notice a
// field the real type does not have.
func TestDecodeStrictRefusesUnknownFields(t *testing.T) {
	for name, y := range map[string]string{
		"unknown field":   "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\nstringDatum: {a: b}\n",
		"wrong case":      "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\nstringdata: {a: b}\n",
		"duplicate field": "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\ntype: Opaque\ntype: Opaque\n",
	} {
		t.Run(name, func(t *testing.T) {
			if err := DecodeStrict(Document{File: name, YAML: []byte(y)}, &corev1.Secret{}); err == nil {
				t.Error("DecodeStrict accepted it")
			}
		})
	}
}
