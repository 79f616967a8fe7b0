// Package e2e holds the end-to-end tests: they start the whole local stack (DynamoDB Local,
// fauxqs, the real function binaries behind the local Lambda Runtime API and HTTP API) from
// template.yaml and drive it as a storefront would.
package e2e
