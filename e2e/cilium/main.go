// Command threatmesh-ciliumcheck validates CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy
// objects with Cilium's own Go code (github.com/cilium/cilium, the version of ../shared/crds):
// the structural schema and unknown-field check of Cilium's preflight validator
// (pkg/k8s/apis/cilium.io/v2/validator, what `cilium-dbg preflight validate-cnp` runs) and the
// agent's parse and sanitize step (CiliumNetworkPolicy.Parse: Rule.Sanitize and conversion to
// policy rules), which checks what a schema cannot (port ranges, L7 rules on the right
// protocols, selectors, CIDR syntax, FQDN patterns).
//
//	threatmesh-ciliumcheck FILE...   (multi-document YAML; other kinds are skipped)
//
// It prints one line per policy, "ok KIND NAMESPACE/NAME (N rules)" or
// "invalid KIND NAMESPACE/NAME: reason", and exits 1 when any policy is invalid, 2 on bad input.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	yamlutil "k8s.io/apimachinery/pkg/util/yaml"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	"github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2/validator"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: threatmesh-ciliumcheck FILE... (YAML with CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy documents)")
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	v, err := validator.NewNPValidator(logger)
	if err != nil {
		fmt.Fprintf(os.Stderr, "threatmesh-ciliumcheck: %v\n", err)
		os.Exit(2)
	}
	invalid := 0
	for _, file := range os.Args[1:] {
		n, err := checkFile(logger, v, file)
		if err != nil {
			fmt.Fprintf(os.Stderr, "threatmesh-ciliumcheck: %s: %v\n", file, err)
			os.Exit(2)
		}
		invalid += n
	}
	if invalid > 0 {
		os.Exit(1)
	}
}

// checkFile checks every Cilium policy document of file; it returns how many are invalid.
func checkFile(logger *slog.Logger, v *validator.NPValidator, file string) (int, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	reader := yamlutil.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	invalid := 0
	for {
		obj := &unstructured.Unstructured{}
		if err := reader.Decode(&obj.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return invalid, nil
			}
			return invalid, err
		}
		if len(obj.Object) == 0 {
			continue
		}
		kind := obj.GetKind()
		if kind != ciliumv2.CNPKindDefinition && kind != ciliumv2.CCNPKindDefinition {
			continue
		}
		rules, err := check(logger, v, obj)
		if err != nil {
			invalid++
			fmt.Printf("invalid %s %s/%s: %v\n", kind, obj.GetNamespace(), obj.GetName(), err)
			continue
		}
		fmt.Printf("ok %s %s/%s (%d rules)\n", kind, obj.GetNamespace(), obj.GetName(), rules)
	}
}

// check runs the preflight validator, then the agent's parse of the typed object.
func check(logger *slog.Logger, v *validator.NPValidator, obj *unstructured.Unstructured) (int, error) {
	if obj.GetKind() == ciliumv2.CNPKindDefinition {
		if err := v.ValidateCNP(obj); err != nil {
			return 0, err
		}
		cnp := &ciliumv2.CiliumNetworkPolicy{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, cnp); err != nil {
			return 0, err
		}
		rules, err := cnp.Parse(logger, "default")
		return len(rules), err
	}
	if err := v.ValidateCCNP(obj); err != nil {
		return 0, err
	}
	ccnp := &ciliumv2.CiliumClusterwideNetworkPolicy{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, ccnp); err != nil {
		return 0, err
	}
	rules, err := ccnp.Parse(logger, "default")
	return len(rules), err
}
