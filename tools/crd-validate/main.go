// Command crd-validate checks CustomResourceDefinitions and custom resources
// with the validation code of kube-apiserver (k8s.io/apiextensions-apiserver),
// without running an apiserver.
//
//	crd-validate crds <crd.yaml>...
//	crd-validate resources --crds <dir> <resource.yaml>...
//
// Every problem is printed on its own line; the exit status is 1 if there is
// any problem and 2 on usage errors.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/install"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	crdvalidation "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	structurallisttype "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	schemaobjectmeta "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/api/operation"
	metavalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/features"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"sigs.k8s.io/yaml"
)

var (
	scheme = runtime.NewScheme()
	// Strict like `kubectl apply` (--validate=strict): unknown and duplicate fields are errors.
	decoder = func() runtime.Decoder {
		install.Install(scheme)
		return serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
	}()
	problems = 0
)

func report(format string, args ...any) {
	problems++
	fmt.Printf(format+"\n", args...)
}

func main() {
	args := os.Args[1:]
	switch {
	case len(args) >= 2 && args[0] == "crds":
		for _, file := range args[1:] {
			checkCRDFile(file)
		}
	case len(args) >= 4 && args[0] == "resources" && args[1] == "--crds":
		crds := loadCRDs(args[2])
		for _, file := range args[3:] {
			checkResourceFile(file, crds)
		}
	default:
		fmt.Fprintln(os.Stderr, "usage: crd-validate crds <crd.yaml>...\n       crd-validate resources --crds <dir> <resource.yaml>...")
		os.Exit(2)
	}
	if problems > 0 {
		fmt.Fprintf(os.Stderr, "crd-validate: %d problem(s)\n", problems)
		os.Exit(1)
	}
}

// eachDocument calls fn with the JSON of every non-empty document of a
// (multi-document) YAML file and its 0-based index; it reports read errors.
func eachDocument(file string, fn func(i int, doc []byte)) {
	f, err := os.Open(file)
	if err != nil {
		report("%s: %v", file, err)
		return
	}
	defer f.Close()
	r := utilyaml.NewYAMLReader(bufio.NewReader(f))
	for i := 0; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return
		} else if err != nil {
			report("%s#%d: %v", file, i, err)
			return
		}
		// Strict like kubectl: duplicate keys are errors.
		j, err := yaml.YAMLToJSONStrict(doc)
		if err != nil {
			report("%s#%d: %v", file, i, err)
		} else if j = bytes.TrimSpace(j); !bytes.Equal(j, []byte("null")) {
			fn(i, j)
		}
	}
}

// decodeCRD decodes, defaults and converts a CRD the way the apiserver does on create.
func decodeCRD(doc []byte) (*apiextensionsv1.CustomResourceDefinition, *apiextensions.CustomResourceDefinition, error) {
	obj, _, err := decoder.Decode(doc, nil, nil)
	if err != nil && !runtime.IsStrictDecodingError(err) {
		return nil, nil, err
	}
	crd, ok := obj.(*apiextensionsv1.CustomResourceDefinition)
	if !ok {
		return nil, nil, fmt.Errorf("not an apiextensions.k8s.io/v1 CustomResourceDefinition but %T", obj)
	}
	scheme.Default(crd)
	internal := &apiextensions.CustomResourceDefinition{}
	if cerr := scheme.Convert(crd, internal, nil); cerr != nil {
		return nil, nil, cerr
	}
	return crd, internal, err // err: nil or strict decoding error
}

func checkCRDFile(file string) {
	eachDocument(file, func(i int, doc []byte) {
		where := file // file: field: message; file#i for later documents
		if i > 0 {
			where = fmt.Sprintf("%s#%d", file, i)
		}
		_, crd, err := decodeCRD(doc)
		if strict, ok := runtime.AsStrictDecodingError(err); ok {
			for _, e := range strict.Errors() {
				report("%s: %v", where, e)
			}
		} else if err != nil {
			report("%s: %v", where, err)
			return
		}
		for _, e := range crdvalidation.ValidateCustomResourceDefinition(context.Background(), crd) {
			report("%s: %s: %s", where, e.Field, e.ErrorBody())
		}
	})
}

// version is what the apiserver builds per served CRD version.
type version struct {
	namespaced bool
	structural *structuralschema.Structural
	validator  apiservervalidation.SchemaValidator
	cel        *cel.Validator
}

func loadCRDs(dir string) map[schema.GroupVersionKind]version {
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if len(files) == 0 {
		report("%s: no *.yaml CRDs found", dir)
	}
	out := map[schema.GroupVersionKind]version{}
	for _, file := range files {
		eachDocument(file, func(i int, doc []byte) {
			crd, internal, err := decodeCRD(doc)
			if err == nil {
				err = addCRD(out, crd, internal)
			}
			if err != nil {
				report("%s#%d: cannot use CRD: %v", file, i, err)
			}
		})
	}
	return out
}

func addCRD(out map[schema.GroupVersionKind]version, crd *apiextensionsv1.CustomResourceDefinition, internal *apiextensions.CustomResourceDefinition) error {
	if errs := crdvalidation.ValidateCustomResourceDefinition(context.Background(), internal); len(errs) > 0 {
		return fmt.Errorf("invalid CRD (run `crd-validate crds`): %v", errs.ToAggregate())
	}
	for _, v := range internal.Spec.Versions {
		if !v.Served {
			continue
		}
		validation := v.Schema
		if validation == nil {
			validation = internal.Spec.Validation
		}
		if validation == nil || validation.OpenAPIV3Schema == nil {
			return fmt.Errorf("version %s has no schema", v.Name)
		}
		s, err := structuralschema.NewStructural(validation.OpenAPIV3Schema)
		if err != nil {
			return err
		}
		s = s.DeepCopy()
		if err := structuraldefaulting.PruneDefaults(s); err != nil {
			return err
		}
		validator, _, err := apiservervalidation.NewSchemaValidator(validation.OpenAPIV3Schema)
		if err != nil {
			return err
		}
		gvk := schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: crd.Spec.Names.Kind}
		namespaced := crd.Spec.Scope == apiextensionsv1.NamespaceScoped
		out[gvk] = version{
			namespaced: namespaced,
			structural: s,
			validator:  validator,
			cel:        cel.NewValidator(s, true, celconfig.PerCallLimit),
		}
	}
	return nil
}

func checkResourceFile(file string, crds map[schema.GroupVersionKind]version) {
	eachDocument(file, func(i int, doc []byte) {
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(doc); err != nil {
			report("%s#%d: %v", file, i, err)
			return
		}
		where := fmt.Sprintf("%s#%d %s/%s", file, i, u.GetKind(), u.GetName())
		v, ok := crds[u.GroupVersionKind()]
		if !ok {
			report("%s: apiVersion: no served CRD version for %s", where, u.GroupVersionKind())
			return
		}
		for _, msg := range checkResource(u, v) {
			report("%s: %s", where, msg)
		}
	})
}

// checkResource follows kube-apiserver's create path for a custom resource:
// decode with pruning (unknown fields are errors under kubectl's default
// --validate=strict), defaulting, then the registry strategy's validation
// (object meta, OpenAPI schema, embedded resources, list types, CEL). Unlike
// a create through the main endpoint, .status is kept and validated too.
func checkResource(u *unstructured.Unstructured, v version) []string {
	var out []string
	unknown := func(paths []string) {
		for _, p := range paths {
			out = append(out, p+": unknown field (would be pruned)")
		}
	}
	objectMeta, _, metaUnknown, err := schemaobjectmeta.GetObjectMetaWithOptions(u.Object, schemaobjectmeta.ObjectMetaOptions{ReturnUnknownFieldPaths: true})
	if err != nil {
		return append(out, "metadata: "+err.Error())
	}
	unknown(metaUnknown)
	kind, apiVersion := u.GetKind(), u.GetAPIVersion()
	unknown(pruning.PruneWithOptions(u.Object, v.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}))
	structuraldefaulting.PruneNonNullableNullsWithoutDefaults(u.Object, v.structural)
	ferr, paths := schemaobjectmeta.CoerceWithOptions(nil, u.Object, v.structural, false, schemaobjectmeta.CoerceOptions{ReturnUnknownFieldPaths: true})
	if ferr != nil {
		out = append(out, fmt.Sprintf("%s: %s", ferr.Field, ferr.ErrorBody()))
	}
	unknown(paths)
	u.SetKind(kind)
	u.SetAPIVersion(apiVersion)
	if err := schemaobjectmeta.SetObjectMeta(u.Object, objectMeta); err != nil {
		return append(out, "metadata: "+err.Error())
	}
	structuraldefaulting.Default(u.Object, v.structural)

	// The REST layer drops metadata.namespace of cluster-scoped objects, and
	// kubectl fills in the current namespace for namespaced ones.
	if !v.namespaced {
		u.SetNamespace("")
	} else if u.GetNamespace() == "" {
		u.SetNamespace("default")
	}
	for _, e := range validate(u, v) {
		out = append(out, fmt.Sprintf("%s: %s", e.Field, e.ErrorBody()))
	}
	return out
}

// validate is customResourceStrategy.Validate from
// k8s.io/apiextensions-apiserver/pkg/registry/customresource, inlined because
// that package drags in the whole apiserver storage stack (etcd client, ...).
// Type meta is already known to match; none of our CRDs use the scale subresource.
func validate(u *unstructured.Unstructured, v version) field.ErrorList {
	ctx := context.Background()
	meta := &metav1.ObjectMeta{}
	if m, ok := u.Object["metadata"].(map[string]any); ok {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, meta); err != nil {
			return field.ErrorList{field.Invalid(field.NewPath("metadata"), m, err.Error())}
		}
	}
	errs := metavalidation.ValidateObjectMetaDeclaratively(ctx, operation.Create, meta, nil, v.namespaced,
		metavalidation.NameIsDNSSubdomain, field.NewPath("metadata"), utilfeature.DefaultFeatureGate.Enabled(features.DeclarativeValidationBeta))
	errs = append(errs, apiservervalidation.ValidateCustomResource(nil, u.Object, v.validator)...)
	errs = append(errs, schemaobjectmeta.Validate(ctx, nil, u.Object, v.structural, false)...)
	errs = append(errs, structurallisttype.ValidateListSetsAndMaps(nil, v.structural, u.Object)...)
	if v.cel == nil { // no x-kubernetes-validations rules
		return errs
	}
	for _, e := range errs {
		switch e.Type {
		case field.ErrorTypeNotSupported, field.ErrorTypeRequired, field.ErrorTypeTooLong, field.ErrorTypeTooMany, field.ErrorTypeTypeInvalid:
			// The apiserver skips CEL rules on such errors.
			return append(errs, field.Invalid(field.NewPath("<root>"), nil, "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"))
		}
	}
	celErrs, _ := v.cel.Validate(ctx, nil, v.structural, u.Object, nil, celconfig.RuntimeCELCostBudget)
	return append(errs, celErrs...)
}
