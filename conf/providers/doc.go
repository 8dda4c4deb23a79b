// Package providers resolves config-provider placeholders in connector configs and masks
// secrets for display.
//
// A value may hold placeholders anywhere inside it: ${env:NAME} (an environment variable of the
// worker), ${file:/path:key} (a key of a Java .properties file) and ${file:/path} (a whole file,
// trimmed). $${ is a literal ${. Invariants: a resolved value is only ever returned by Resolve,
// to be handed to a running connector or task; no error of this package contains a resolved
// value or a file's content, only the config key and the placeholder; Mask never shows a value
// of a secret key unless it is made of placeholders alone.
package providers
